// A real OpenID Connect provider for the sign-in tests: panva/oidc-provider (certified by the OpenID
// Foundation), with PKCE required, an RSA signing key made at start, and a login page that checks each
// account's password. Usage: node provider.mjs config.json  (port, issuer, clients, accounts).
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const key = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key-1', use: 'sig', alg: 'RS256' };
const SCOPES = 'openid profile email sealguard';

const provider = new Provider(cfg.issuer, {
  clients: cfg.clients,
  jwks: { keys: [key] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'email', 'sealguard'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
    sealguard: ['sealguard_role', 'sealguard_tenant', 'sealguard_facility'],
  },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const account = cfg.accounts[id];
    if (!account) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...account.claims }; } };
  },
  // first-party client: no consent screen, every scope it asks for is granted
  async loadExistingGrant(ctx) {
    const existing = ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (existing) return ctx.oidc.provider.Grant.find(existing);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(SCOPES);
    await grant.save();
    return grant;
  },
});

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (uid, error) => `<!doctype html><meta charset="utf-8"><title>Test IdP sign-in</title>
<h1>Test IdP</h1>${error ? `<p id="error">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login">
<label>Username <input name="login" autocomplete="username"></label>
<label>Password <input name="password" type="password"></label>
<button type="submit" id="idp-submit">Sign in</button></form>`;

async function body(req) {
  let text = '';
  for await (const chunk of req) { text += chunk; if (text.length > 10000) break; }
  return new URLSearchParams(text);
}

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  // tests only: the IdP's administrator changes a person's claims (a role removed, a name changed)
  const admin = req.url.match(/^\/test\/accounts\/([\w-]+)$/);
  if (admin && req.method === 'PUT') {
    let text = '';
    for await (const chunk of req) text += chunk;
    if (!cfg.accounts[admin[1]]) { res.writeHead(404); return res.end(); }
    cfg.accounts[admin[1]].claims = JSON.parse(text);
    res.writeHead(204);
    return res.end();
  }
  const m = req.url.match(/^\/interaction\/([\w-]+)(\/login)?$/);
  if (!m) return callback(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(page(details.uid));
    }
    const form = await body(req);
    const account = cfg.accounts[form.get('login')];
    if (!account || account.password !== form.get('password')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(page(details.uid, 'wrong username or password'));
    }
    await provider.interactionFinished(req, res, { login: { accountId: form.get('login') } },
      { mergeWithLastSubmission: false });
  } catch (err) {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end(String(err && err.message));
  }
});
server.listen(cfg.port, '127.0.0.1', () => console.log(`ready ${cfg.issuer}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
