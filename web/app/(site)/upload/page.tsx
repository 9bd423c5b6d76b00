import type { Metadata } from 'next';
import { UploadStudio } from '../../../components/UploadStudio';

export const metadata: Metadata = {
  title: 'cyclestream · upload',
  description: 'Translate a recorded video or a photo with a CycleGAN model.',
};

export default function UploadPage() {
  return <UploadStudio />;
}
