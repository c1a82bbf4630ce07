/**
 * Turns a failed probe's error into the short text an operator reads in the admin API and the
 * transition log. It names the failure class (refused, DNS, reset, bad response) and never
 * carries a stack; unknown errors keep their code so nothing is hidden.
 */
export function probeErrorText(err: unknown): string {
  const fields = typeof err === 'object' && err !== null ? (err as { code?: unknown; name?: unknown }) : {};
  const code = typeof fields.code === 'string' ? fields.code : '';
  // undici's parser errors do not always carry a code.
  if (fields.name === 'HTTPParserError') return code ? `invalid HTTP response (${code})` : 'invalid HTTP response';
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NODATA':
    case 'EAI_NONAME':
      return `DNS lookup failed (${code})`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'EADDRNOTAVAIL':
      return `host unreachable (${code})`;
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return 'connect timed out';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'connection reset';
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return 'connection closed before a complete response';
    case 'UND_ERR_HEADERS_OVERFLOW':
      return 'response headers too large';
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      return 'response body shorter or longer than its Content-Length';
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return 'timed out';
    default:
      if (code.startsWith('HPE_')) return `invalid HTTP response (${code})`;
      if (code) return `request failed (${code})`;
      return err instanceof Error && err.message ? `request failed: ${err.message.slice(0, 200)}` : 'request failed';
  }
}
