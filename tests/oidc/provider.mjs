// A real OpenID Connect provider for the sign-in tests: panva's `oidc-provider` (OpenID Certified), run on
// loopback with the machine's Node.js. Its built-in login page (devInteractions) accepts any password for the
// users below; each user's groups and tenant are the claims the product reads (DESIGN.md, "Sign-in").
//
//   PORT=4000 CLIENT_ID=emd CLIENT_SECRET=... REDIRECT_URIS=http://127.0.0.1:8501/oauth2callback \
//   API_AUDIENCE=urn:emd:api node provider.mjs
//
// Tokens: the ID token carries `groups` and `tenant` (aud = CLIENT_ID), as the dashboard's st.login reads
// it. An authorization request with `resource=API_AUDIENCE` also gets a JWT access token (RFC 8707 resource
// indicator, RFC 9068 profile) whose `aud` is API_AUDIENCE and which carries the same claims: what an API
// client sends as `Authorization: Bearer`, as Entra ID, Okta and Auth0 issue for an API.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 4000);
const issuer = process.env.ISSUER || `http://127.0.0.1:${port}`;
const clientId = process.env.CLIENT_ID || 'emd';
const clientSecret = process.env.CLIENT_SECRET || 'emd-test-secret';
const redirectUris = (process.env.REDIRECT_URIS || 'http://127.0.0.1:8501/oauth2callback').split(',');
const apiAudience = process.env.API_AUDIENCE || 'urn:emd:api';

// login -> claims. `nogroups` has no groups claim at all; `nobody` an empty one.
export const USERS = {
  alice: { name: 'Alice Platform', groups: ['eng-platform'], tenant: 'acme' },
  walt: { name: 'Walt Web', groups: ['eng-web'], tenant: 'acme' },
  lead: { name: 'Lee Leadership', groups: ['eng-leadership'], tenant: 'acme' },
  admin: { name: 'Ada Admin', groups: ['emd-admins'], tenant: 'acme' },
  nobody: { name: 'No Team', groups: [], tenant: 'acme' },
  nogroups: { name: 'No Groups Claim', tenant: 'acme' },
  notenant: { name: 'No Tenant Claim', groups: ['eng-platform'] },
  gold: { name: 'Gilda Gold', groups: ['eng-platform'], tenant: 'gold' },
};

function claimsOf(id) {
  const user = USERS[id];
  const out = { sub: id, name: user.name, email: `${id}@example.test` };
  if (user.groups !== undefined) out.groups = user.groups;
  if (user.tenant !== undefined) out.tenant = user.tenant;
  return out;
}

// SIGNING_JWK (a private RSA JWK with its kid) lets a second process sign with the same key, e.g. as another
// issuer (ISSUER) or with a clock CLOCK_SKEW_SECONDS off (expired tokens) - what the bad-token tests need.
function newKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID() };
}
const signingKey = { ...(process.env.SIGNING_JWK ? JSON.parse(process.env.SIGNING_JWK) : newKey()),
                     use: 'sig', alg: 'RS256' };
// The skewed clock applies while the token endpoint mints tokens only (cookies keep the real time).
const skewMs = Number(process.env.CLOCK_SKEW_SECONDS || 0) * 1000;
let skewOn = false;
if (skewMs) {
  const realNow = Date.now;
  Date.now = () => realNow() + (skewOn ? skewMs : 0);
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: redirectUris,
    post_logout_redirect_uris: redirectUris.map((u) => u.replace(/\/oauth2callback$/, '/')),
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  }],
  jwks: { keys: [signingKey] },
  findAccount: async (_ctx, id) => (USERS[id] ? { accountId: id, claims: async () => claimsOf(id) } : undefined),
  claims: { openid: ['sub'], profile: ['name', 'email', 'groups', 'tenant'], email: ['email'] },
  conformIdTokenClaims: false, // the profile claims go into the ID token, where st.login reads them
  pkce: { required: () => false },
  features: {
    devInteractions: { enabled: true }, // the provider's own login page (any password)
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => undefined,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, indicator) => {
        if (indicator !== apiAudience) throw new Provider.errors.InvalidTarget();
        return { scope: 'openid profile', audience: apiAudience, accessTokenFormat: 'jwt',
                 jwt: { sign: { alg: 'RS256' } } };
      },
    },
  },
  extraTokenClaims: async (_ctx, token) => {
    if (token.kind !== 'AccessToken' || !USERS[token.accountId]) return undefined;
    const { groups, tenant } = claimsOf(token.accountId);
    return { ...(groups !== undefined ? { groups } : {}), ...(tenant !== undefined ? { tenant } : {}) };
  },
  // A first-party client: no consent screen (the login page is the only interaction).
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId,
                                                accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid profile email');
    grant.addOIDCClaims(['name', 'email', 'groups', 'tenant']);
    grant.addResourceScope(apiAudience, 'openid profile');
    await grant.save();
    return grant;
  },
  ttl: { AccessToken: 3600, IdToken: 3600, Session: 3600, Interaction: 600, Grant: 3600 },
});

// For the tests: how often the JWKS was fetched (the API must refetch on an unknown kid at most once in 5 s).
let jwksHits = 0;
provider.use(async (ctx, next) => {
  if (skewMs && ctx.path === '/token') {
    skewOn = true;
    try { await next(); } finally { skewOn = false; }
    return;
  }
  if (ctx.path === '/jwks') jwksHits += 1;
  if (ctx.path === '/__test/jwks-hits') {
    ctx.body = { hits: jwksHits };
    return;
  }
  await next();
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
