// Package httpapi is Yard's HTTP surface: the chi router, the JSON error envelope
// {"error":{"code","message"}}, request IDs, latency metrics, bearer authentication for /api,
// health and readiness, and the auth endpoints. Domain packages add their own routes through
// Mounter, so this package does not grow with every feature.
//
// REST is bearer-only (no cookies), which makes it CSRF-safe by construction.
package httpapi
