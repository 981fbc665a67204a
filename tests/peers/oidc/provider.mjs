// The identity provider the register's company sign-in is tested against: oidc-provider (an
// OpenID Certified implementation) with its development login and consent pages, the users,
// groups and clients the test gives in OIDC_PEER_CONFIG (JSON), on a loopback port.
//
// A client listed in `tamper_clients` gets ID tokens with one bit of their signature flipped on
// the way out of the token endpoint: the register must refuse them.
import Provider from 'oidc-provider';

const config = JSON.parse(process.env.OIDC_PEER_CONFIG);
const issuer = `http://127.0.0.1:${config.port}`;
const users = config.users;
const tamper = new Set(config.tamper_clients || []);

const provider = new Provider(issuer, {
  clients: config.clients,
  // The login page accepts any password: the account is who the login names.
  async findAccount(ctx, id) {
    const user = users[id];
    if (!user) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...user }; } };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups'],
  // Claims asked for by scope go into the ID token too, as Entra ID and Okta can be set to do.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  cookies: { keys: ['register-test-peer-only'] },
  // The test's own signing keys when it rotates them; else oidc-provider makes some up.
  ...(config.keys ? { jwks: { keys: config.keys } } : {}),
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
});

provider.use(async (ctx, next) => {
  await next();
  const clientId = ctx.oidc && ctx.oidc.client && ctx.oidc.client.clientId;
  if (ctx.path === '/token' && ctx.body && ctx.body.id_token && tamper.has(clientId)) {
    const [header, payload, signature] = ctx.body.id_token.split('.');
    const bytes = Buffer.from(signature, 'base64url');
    bytes[bytes.length - 1] ^= 1;
    ctx.body = { ...ctx.body, id_token: [header, payload, bytes.toString('base64url')].join('.') };
  }
});

provider.listen(config.port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
