// Talks to the server this page came from. The token, when the server asks for one,
// lives in sessionStorage: gone when the tab closes, never in a URL.
const tokenKey = 'lockring.token';

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code ?? 'http_error';
  }
}

export const token = {
  get: () => sessionStorage.getItem(tokenKey),
  set: (value) => sessionStorage.setItem(tokenKey, value),
  clear: () => sessionStorage.removeItem(tokenKey),
};

export function authHeaders() {
  const value = token.get();
  return value === null ? {} : { authorization: `Bearer ${value}` };
}

export async function getJson(path, init = {}) {
  const response = await fetch(path, { ...init, headers: { accept: 'application/json', ...authHeaders(), ...(init.headers ?? {}) } });
  const text = await response.text();
  const body = text === '' ? undefined : JSON.parse(text);
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export const seg = (name) => encodeURIComponent(name);
