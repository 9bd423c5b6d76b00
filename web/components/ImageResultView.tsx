import type { TranslatedImage } from '../lib/jobs-api';
import { extensionOf, formatBytes } from '../lib/job-format';

/** An image translated in the browser's session: object URLs the page revokes when it replaces them. */
export interface ImageResult {
  originalUrl: string;
  name: string;
  translated: TranslatedImage;
}

interface ImageResultViewProps {
  image: ImageResult;
  /** The picked model, for the download's file name. */
  modelId: string;
}

/** The image mode's result: the original and the translation side by side, and a download. */
export function ImageResultView({ image, modelId }: ImageResultViewProps) {
  return (
    <section className="job-view" aria-label="Translated image">
      <div className="panels">
        <figure className="panel">
          <figcaption className="panel-label">
            <span className="panel-title">Original</span>
            <span className="panel-detail">{image.name}</span>
          </figcaption>
          <div className="panel-frame">
            {/* eslint-disable-next-line @next/next/no-img-element -- a local object URL, nothing to optimise */}
            <img className="video" src={image.originalUrl} alt="The uploaded image" />
          </div>
        </figure>
        <figure className="panel">
          <figcaption className="panel-label">
            <span className="panel-title">Translated</span>
            <span className="panel-detail">
              {image.translated.width}x{image.translated.height}
            </span>
          </figcaption>
          <div className="panel-frame">
            {/* eslint-disable-next-line @next/next/no-img-element -- a local object URL, nothing to optimise */}
            <img className="video" data-testid="result-image" src={image.translated.url} alt="The translated image" />
          </div>
        </figure>
      </div>
      <div className="buttons">
        <a
          className="button button-primary"
          data-testid="download"
          href={image.translated.url}
          download={`${image.name.replace(/\.[^.]+$/, '')}-${modelId}.${extensionOf(image.translated.type)}`}
        >
          Download image ({formatBytes(image.translated.bytes)})
        </a>
      </div>
    </section>
  );
}
