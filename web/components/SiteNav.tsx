'use client';

import Link from 'next/link';
import { usePathname } from 'next/navigation';

const LINKS = [
  { href: '/', label: 'Live' },
  { href: '/upload', label: 'Upload' },
] as const;

export function SiteNav() {
  const path = usePathname();
  return (
    <nav className="site-nav" aria-label="Pages">
      {LINKS.map((l) => (
        <Link key={l.href} href={l.href} className={`site-nav-link${path === l.href ? ' site-nav-link-active' : ''}`} data-testid={`nav-${l.label.toLowerCase()}`}>
          {l.label}
        </Link>
      ))}
    </nav>
  );
}
