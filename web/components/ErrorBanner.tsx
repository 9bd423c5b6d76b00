interface BannerAction {
  label: string;
  onClick: () => void;
  disabled?: boolean;
  testId?: string;
}

interface ErrorBannerProps {
  title: string;
  detail: string;
  /** The way out: retry, reconnect, or just dismiss. */
  action?: BannerAction;
  onDismiss?: () => void;
  tone?: 'error' | 'warning';
}

export function ErrorBanner({ title, detail, action, onDismiss, tone = 'error' }: ErrorBannerProps) {
  return (
    <div className={`banner banner-${tone}`} role="alert" data-testid="error-banner">
      <div className="banner-text">
        <strong className="banner-title">{title}</strong>
        <span className="banner-detail">{detail}</span>
      </div>
      <div className="banner-actions">
        {action ? (
          <button
            type="button"
            className="button button-primary"
            onClick={action.onClick}
            disabled={action.disabled}
            data-testid={action.testId}
          >
            {action.label}
          </button>
        ) : null}
        {onDismiss ? (
          <button type="button" className="button button-ghost" onClick={onDismiss} aria-label="Dismiss">
            Dismiss
          </button>
        ) : null}
      </div>
    </div>
  );
}
