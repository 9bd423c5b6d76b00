/**
 * The effective security settings, logged in one line at start-up so an operator sees what is
 * open: which token lists are set (never the tokens), who may embed and connect, and the limits.
 */
import type { Config } from './config.js';

export function securitySettings(config: Config): Record<string, unknown> {
  const anyTokens = config.ingestTokens.length + config.viewerTokens.length + config.operatorTokens.length > 0;
  return {
    whipIngest: config.ingestTokens.length > 0 ? `${config.ingestTokens.length} token(s)` : 'off (no INGEST_TOKENS)',
    playback: config.viewerTokens.length > 0 ? `${config.viewerTokens.length} viewer token(s)` : 'open',
    streamList: config.operatorTokens.length > 0 ? `${config.operatorTokens.length} operator token(s)` : anyTokens ? 'closed (no OPERATOR_TOKENS)' : 'open',
    embedOrigins: config.embedOrigins.length > 0 ? config.embedOrigins : 'same origin only',
    socketOrigins: config.appOrigins.length > 0 ? ['same origin', ...config.appOrigins] : 'same origin only',
    publicUrl: config.publicUrl || 'none (relative links)',
    maxSessions: config.maxSessions,
    maxSessionsPerIp: config.maxSessionsPerIp,
    maxSocketsPerIp: config.maxSocketsPerIp,
    maxSocketEventsPerS: config.maxSocketEventsPerS,
    maxSseConnectionsPerStream: config.maxSseConnectionsPerStream,
    maxSseConnectionsPerIp: config.maxSseConnectionsPerIp,
    maxViewersPerStream: config.maxViewersPerStream,
    sdp: {
      maxBytes: config.maxSdpBytes,
      maxMediaSections: config.maxSdpMediaSections,
      maxFormatsPerSection: config.maxSdpFormatsPerSection,
      maxAttributeLines: config.maxSdpAttributeLines,
      maxLineBytes: config.maxSdpLineBytes,
      maxIceCandidatesPerSession: config.maxIceCandidatesPerSession,
    },
    maxInputPx: `${config.maxInputWidthPx}x${config.maxInputHeightPx}`,
  };
}
