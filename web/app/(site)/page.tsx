import { LiveStudio } from '../../components/LiveStudio';

export default function Home() {
  return <LiveStudio />;
}
