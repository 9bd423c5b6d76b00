export { FrameTranslator, type FrameTranslatorOptions, type TranslateJob } from './frame-translator.js';
