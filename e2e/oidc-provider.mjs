// A real OpenID Connect provider for the shop: node `oidc-provider` on loopback, with its
// development login and consent pages (any login, any password), one registered client (the
// shop: authorization code with PKCE required), and accounts whose email the provider vouches
// for (`{login}@example.com`, email_verified true).
//
// The test imports `startProvider`. To try the shop by hand:
//   node e2e/oidc-provider.mjs          (prints its issuer, http://127.0.0.1:3004)
//   OIDC_ISSUER=http://127.0.0.1:3004 AUTH_DEV_MODE=1 cargo run --example try_before_you_buy

import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import Provider from 'oidc-provider';

export const CLIENT_ID = 'teashop';
// A development secret, the same the shop uses when OIDC_CLIENT_SECRET is not set.
export const CLIENT_SECRET = 'teashop-development-secret';

function configuration(shopBase) {
  return {
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: [`${shopBase}/auth/oidc/callback`],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    // PKCE for every client, confidential ones included.
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    // The ID token carries the scopes' claims (email, name), as Google's and most do.
    conformIdTokenClaims: false,
    cookies: { keys: ['e2e-only-cookie-key'] },
    async findAccount(_ctx, id) {
      return {
        accountId: id,
        async claims() {
          return { sub: id, email: `${id}@example.com`, email_verified: true, name: id };
        },
      };
    },
  };
}

/// Listens on 127.0.0.1 (`port` 0: any free one) and returns `{ issuer, configure, close }`.
/// The provider serves once `configure(shopBase)` has registered the shop's redirect URI, so
/// the shop (which discovers the provider on its first sign-in) can start after the provider
/// and before it knows the shop's own port.
export async function startProvider(port = 0) {
  let provider = null;
  const server = createServer((request, response) => {
    if (!provider) {
      response.writeHead(503).end('provider not configured yet');
      return;
    }
    provider.callback()(request, response);
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  return {
    issuer,
    configure(shopBase) {
      provider = new Provider(issuer, configuration(shopBase));
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const shop = process.env.SHOP_URL || 'http://127.0.0.1:3000';
  const running = await startProvider(Number(process.env.PORT || 3004));
  running.configure(shop);
  console.log(`OpenID provider on ${running.issuer} (client ${CLIENT_ID}, redirect ${shop}/auth/oidc/callback)`);
}
