import type { ReactNode } from 'react';
import { SiteNav } from '../../components/SiteNav';

/** The site's own pages share the nav; the embed route sits outside this group so iframes get the bare player. */
export default function SiteLayout({ children }: { children: ReactNode }) {
  return (
    <>
      <SiteNav />
      {children}
    </>
  );
}
