// Package frontdoor is what every HTTP request passes before any handler sees it: the Host
// allowlist (a DNS name an attacker points at the server, DNS rebinding, is answered with 421),
// the Origin policy shared by WebSocket upgrades and dev login, the security headers of every
// response, and the bounds on a connection (time to send headers and a body, header size, how
// many connections the listener holds).
//
// A WebSocket upgrade has no body, so the body deadline never applies to it; a long-lived
// WebSocket is bounded by the multiplexer's own idle timeout instead.
package frontdoor
