// Package auth turns credentials into an identity.User: bearer JWTs (HS256 with a shared secret,
// or RS256 with keys from an OIDC provider's JWKS, refreshed when an unknown key id appears),
// dev-login tokens, and single-use WebSocket tickets.
//
// Browsers cannot set headers on a WebSocket, and a long-lived JWT must never travel in a URL
// (proxies and logs keep URLs), so a browser first trades its bearer token for a ticket that is
// good for one upgrade within 30 seconds. One replica keeps its tickets in memory; replicas that
// share Redis share them there, since the upgrade may reach another replica than the trade.
//
// No function here logs a token, a ticket or a secret; errors name what was wrong, never the value.
package auth
