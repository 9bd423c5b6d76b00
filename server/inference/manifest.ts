import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ManifestError, ModelIdError } from '../shared/errors.js';
import { parseWith } from '../shared/parse.js';
import { MODEL_GROUPS, shortSidePxSchema } from '../contract/index.js';

/** Model ids are file stems in models/; anything that could escape that folder is refused. */
export const MODEL_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export function assertModelId(id: unknown): string {
  if (typeof id !== 'string' || !MODEL_ID_PATTERN.test(id)) {
    throw new ModelIdError(`invalid model id ${JSON.stringify(id)}: use lowercase letters, digits, '-' and '_'`);
  }
  return id;
}

const tensorSpec = z.object({
  name: z.string().min(1),
  layout: z.literal('NCHW'),
  channels: z.literal(3),
  /** Pixel value range the tensor uses: [-1, 1] for tanh generators. */
  range: z.tuple([z.number(), z.number()]).refine(([lo, hi]) => lo < hi, 'range must be [low, high]'),
});

const share = z.number().min(0).max(1);

/** What the ImageNet classifier (training/judge.py) says about translated and untranslated test images. */
const imagenetJudge = z.object({
  classifier: z.string(),
  /** horse→zebra: share of translated test images whose top-1 class is zebra; zebra→horse: still zebra (lower is better). */
  top1Zebra: share,
  meanPZebra: share,
  inputsTop1Zebra: share,
  inputsMeanPZebra: share,
  images: z.number().int().nonnegative(),
  note: z.string().optional(),
});

/** training/evaluate.py's results. Known fields are typed; older manifests may hold others. */
const metricsSchema = z
  .object({
    imagenet: imagenetJudge.optional(),
    /** L1 ([-1, 1] units) and grey SSIM between this model's output and the teacher's on the test inputs. */
    teacherAgreement: z.object({ l1: z.number().nonnegative(), ssimGrey: z.number(), teacher: z.string(), images: z.number().int() }).optional(),
    /** Painter datasets: a painting-vs-photo classifier's verdict on the translated test images. */
    paintingJudge: z
      .object({ target: z.enum(['painting', 'photo']), share, inputsShare: share, images: z.number().int().nonnegative() })
      .catchall(z.unknown())
      .optional(),
    translationSuccess: share.optional(),
    ssimGrey: z.number().optional(),
    sobelEdgeCorrelation: z.number().optional(),
  })
  .catchall(z.unknown());

export const manifestSchema = z.object({
  schemaVersion: z.literal(1),
  id: z.string().regex(MODEL_ID_PATTERN),
  title: z.string().min(1),
  file: z.string().regex(/^[a-z0-9][a-z0-9_.-]*\.onnx$/),
  domains: z.object({ from: z.string().min(1), to: z.string().min(1) }),
  architecture: z.string().min(1),
  params: z.number().int().nonnegative(),
  /** Multiply-accumulates for one 256x256 frame. */
  macsAt256: z.number().nonnegative(),
  input: tensorSpec.extend({ sizeMultiple: z.number().int().positive() }),
  output: tensorSpec,
  provenance: z.object({
    /**
     * `fixture` models are exact test transforms, `trained` ones were learnt by training/train.py,
     * `distilled` ones by training/distill.py from a published teacher (named in `teacher`).
     */
    kind: z.enum(['trained', 'distilled', 'fixture', 'random']),
    description: z.string().optional(),
    dataset: z.string().optional(),
    epochs: z.number().optional(),
    iterations: z.number().optional(),
    cropPx: z.number().optional(),
    loadPx: z.number().optional(),
    hardware: z.string().optional(),
    wallTimeS: z.number().optional(),
    command: z.string().optional(),
    script: z.string().optional(),
    torchVersion: z.string().optional(),
    /** The model the student learnt from; `noticeFile` is its license notice beside the model. */
    teacher: z
      .object({ name: z.string(), paper: z.string().optional(), license: z.string(), weights: z.string().optional(), noticeFile: z.string().optional() })
      .optional(),
  }),
  metrics: metricsSchema.optional(),
  /**
   * A float16 copy of the same generator (float32 input and output), written by training/fp16.py:
   * loaded instead of `file` on GPU providers (MODEL_PRECISION).
   */
  fp16: z
    .object({
      file: z.string().regex(/^[a-z0-9][a-z0-9_.-]*\.onnx$/),
      maxAbsDiff: z.number().nonnegative().optional(),
      meanAbsDiffLevels: z.number().nonnegative().optional(),
      script: z.string().optional(),
    })
    .optional(),
  /** Where the model picker lists it (`other` when absent). */
  group: z.enum(MODEL_GROUPS).optional(),
  /** One sentence for users, shown under the picker: what the filter does and how well. */
  summary: z.string().min(1).max(200).optional(),
  /** Listed but hidden from the model picker (test fixtures). */
  hidden: z.boolean().optional(),
  /**
   * The live processing short side at which this model keeps realtime on a 2-core CPU. A live
   * session left on Auto runs at no more than this on the CPU provider; GPU providers ignore it,
   * and so do video and image jobs, which have no frame rate to keep.
   */
  cpuShortSidePx: shortSidePxSchema.optional(),
});

export type ModelManifest = z.infer<typeof manifestSchema>;

const parseManifestJson = parseWith(manifestSchema, ManifestError, '(root)');

export function parseManifest(json: unknown, source: string): ModelManifest {
  return parseManifestJson(json, source);
}

export async function readManifest(path: string): Promise<ModelManifest> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ManifestError(`${path}: cannot read (${(err as Error).message})`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(`${path}: not JSON (${(err as Error).message})`, { cause: err });
  }
  return parseManifest(json, path);
}
