package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/yardhq/yard/server/identity"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func hsVerifier(t *testing.T, now func() time.Time) *Verifier {
	t.Helper()
	v, err := NewVerifier(Options{Secret: secret, AdminGroup: "yard-admins", TokenTTL: time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestIssueThenVerifyRoundTrips(t *testing.T) {
	v := hsVerifier(t, nil)
	tok, exp, err := v.Issue(identity.User{ID: "alice", Name: "alice", Groups: []string{"dev", "yard-admins"}})
	if err != nil {
		t.Fatal(err)
	}
	if time.Until(exp) < 59*time.Minute {
		t.Fatalf("expiry %v too soon", exp)
	}
	u, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "alice" || u.ID != "alice" || len(u.Groups) != 2 || !u.Admin {
		t.Fatalf("user = %+v; want alice, 2 groups, admin through the admin group", u)
	}
}

func TestVerifyRejects(t *testing.T) {
	v := hsVerifier(t, nil)
	now := time.Now()
	cases := map[string]struct {
		token string
		code  string
	}{
		"empty":   {"", CodeMissing},
		"garbage": {"not.a.jwt", CodeInvalid},
		"expired": {sign(t, jwt.SigningMethodHS256, secret, "", jwt.MapClaims{
			"sub": "alice", "exp": now.Add(-time.Hour).Unix()}), CodeExpired},
		"no expiry": {sign(t, jwt.SigningMethodHS256, secret, "", jwt.MapClaims{"sub": "alice"}), CodeInvalid},
		"forged signature": {sign(t, jwt.SigningMethodHS256, []byte("another-secret-of-enough-length"), "", jwt.MapClaims{
			"sub": "alice", "exp": now.Add(time.Hour).Unix()}), CodeInvalid},
		"alg none": {sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", jwt.MapClaims{
			"sub": "alice", "exp": now.Add(time.Hour).Unix()}), CodeInvalid},
		"no subject": {sign(t, jwt.SigningMethodHS256, secret, "", jwt.MapClaims{
			"exp": now.Add(time.Hour).Unix()}), CodeInvalid},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(tc.token)
			if err == nil {
				t.Fatal("accepted")
			}
			if got := CodeOf(err); got != tc.code {
				t.Fatalf("code %q, want %q (%v)", got, tc.code, err)
			}
			if tc.token != "" && strings.Contains(err.Error(), tc.token) {
				t.Fatal("the error repeats the token")
			}
		})
	}
}

// Admin follows from the groups when a token is verified: an "admin" claim grants nothing, and
// a token minted while its user was in the admin group stops being an admin token once the
// server's admin group changes.
func TestAdminIsDerivedAtVerification(t *testing.T) {
	v := hsVerifier(t, nil)
	tok := sign(t, jwt.SigningMethodHS256, secret, "", jwt.MapClaims{
		"sub": "u-1", "preferred_username": "dana", "admin": true, "exp": time.Now().Add(time.Hour).Unix()})
	u, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != "u-1" || u.Name != "u-1" || u.Display != "dana" || u.Admin {
		t.Fatalf("user = %+v; want name u-1 (sub), display dana, not admin", u)
	}
	issued, _, err := v.Issue(identity.User{ID: "erin", Name: "erin", Groups: []string{"yard-admins"}, Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewVerifier(Options{Secret: secret, AdminGroup: "ops", TokenTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if u, err := other.Verify(issued); err != nil || u.Admin {
		t.Fatalf("with another admin group: %+v, %v; want verified, not admin", u, err)
	}
	if _, present := parseUnverified(t, issued)["admin"]; present {
		t.Fatal("issued token carries an admin claim")
	}
}

func parseUnverified(t *testing.T, tok string) jwt.MapClaims {
	t.Helper()
	c := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, c); err != nil {
		t.Fatal(err)
	}
	return c
}

// The impersonated name is the configured stable claim, never the display name a user can edit
// at the provider.
func TestUserNameIsTheConfiguredClaim(t *testing.T) {
	exp := time.Now().Add(time.Hour).Unix()
	v := hsVerifier(t, nil)
	u, err := v.Verify(sign(t, jwt.SigningMethodHS256, secret, "", jwt.MapClaims{
		"sub": "8d2f", "name": "admin", "preferred_username": "cluster-admin", "exp": exp}))
	if err != nil || u.Name != "8d2f" || u.Display != "admin" {
		t.Fatalf("default claim: %+v, %v; want name 8d2f, display admin", u, err)
	}
	byEmail, err := NewVerifier(Options{Secret: secret, UserClaim: "email", TokenTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	u, err = byEmail.Verify(sign(t, jwt.SigningMethodHS256, secret, "", jwt.MapClaims{
		"sub": "8d2f", "email": "dana@example.com", "name": "Dana", "exp": exp}))
	if err != nil || u.Name != "dana@example.com" || u.ID != "8d2f" || u.Display != "Dana" {
		t.Fatalf("email claim: %+v, %v", u, err)
	}
	_, err = byEmail.Verify(sign(t, jwt.SigningMethodHS256, secret, "", jwt.MapClaims{"sub": "8d2f", "name": "Dana", "exp": exp}))
	if CodeOf(err) != CodeInvalid {
		t.Fatalf("no email claim: %v", err)
	}
	// Yard's own tokens round-trip through the configured claim.
	tok, _, err := byEmail.Issue(identity.User{ID: "8d2f", Name: "dana@example.com", Display: "Dana"})
	if err != nil {
		t.Fatal(err)
	}
	if u, err := byEmail.Verify(tok); err != nil || u.Name != "dana@example.com" || u.ID != "8d2f" || u.Display != "Dana" {
		t.Fatalf("round trip: %+v, %v", u, err)
	}
}

func TestReservedUsersAndGroupsAreRefused(t *testing.T) {
	v := hsVerifier(t, nil)
	exp := time.Now().Add(time.Hour).Unix()
	for name, c := range map[string]jwt.MapClaims{
		"system:masters group": {"sub": "mallory", "groups": []string{"dev", "system:masters"}, "exp": exp},
		"system:nodes group":   {"sub": "mallory", "groups": []string{"system:nodes"}, "exp": exp},
		"system: user":         {"sub": "system:kube-scheduler", "exp": exp},
		"system:admin user":    {"sub": "system:admin", "exp": exp},
	} {
		_, err := v.Verify(sign(t, jwt.SigningMethodHS256, secret, "", c))
		if CodeOf(err) != CodeReserved {
			t.Errorf("%s: code %q (%v), want %q", name, CodeOf(err), err, CodeReserved)
		}
	}
	_, err := v.Verify(sign(t, jwt.SigningMethodHS256, secret, "", jwt.MapClaims{"sub": "x", "groups": "system:masters", "exp": exp}))
	if CodeOf(err) != CodeInvalid {
		t.Errorf("groups as a string: %v", err)
	}
}

func TestAudienceAndIssuerAreChecked(t *testing.T) {
	v, err := NewVerifier(Options{Secret: secret, Audience: "yard", Issuer: "https://idp.example", TokenTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Unix()
	cases := []struct {
		name   string
		claims jwt.MapClaims
		code   string
	}{
		{"right", jwt.MapClaims{"sub": "a", "aud": "yard", "iss": "https://idp.example", "exp": exp}, ""},
		{"audience list", jwt.MapClaims{"sub": "a", "aud": []string{"other", "yard"}, "iss": "https://idp.example", "exp": exp}, ""},
		{"another app's token", jwt.MapClaims{"sub": "a", "aud": "grafana", "iss": "https://idp.example", "exp": exp}, CodeAudience},
		{"no audience", jwt.MapClaims{"sub": "a", "iss": "https://idp.example", "exp": exp}, CodeInvalid},
		{"another issuer", jwt.MapClaims{"sub": "a", "aud": "yard", "iss": "https://evil.example", "exp": exp}, CodeIssuer},
		{"no issuer", jwt.MapClaims{"sub": "a", "aud": "yard", "exp": exp}, CodeInvalid},
	}
	for _, tc := range cases {
		_, err := v.Verify(sign(t, jwt.SigningMethodHS256, secret, "", tc.claims))
		if tc.code == "" && err != nil || tc.code != "" && CodeOf(err) != tc.code {
			t.Errorf("%s: %v, want code %q", tc.name, err, tc.code)
		}
	}
	tok, _, err := v.Issue(identity.User{ID: "a", Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("own token: %v", err)
	}
}

// Refresh keeps the session's start: a refreshed token never outlives sign-in + SessionMax, and
// past it refresh is refused however fresh the presented token is.
func TestRefreshCannotExtendTheSession(t *testing.T) {
	clock := time.Now().Truncate(time.Second)
	v, err := NewVerifier(Options{Secret: secret, TokenTTL: time.Hour, SessionMax: 150 * time.Minute,
		Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	signIn := clock
	tok, _, err := v.Issue(identity.User{ID: "alice", Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	for i, wantExp := range []time.Time{signIn.Add(100 * time.Minute), signIn.Add(140 * time.Minute), signIn.Add(150 * time.Minute)} {
		clock = clock.Add(40 * time.Minute) // refresh before each token expires
		var exp time.Time
		var u identity.User
		tok, exp, u, err = v.Refresh(tok)
		if err != nil || u.Name != "alice" {
			t.Fatalf("refresh %d: %+v %v", i, u, err)
		}
		if !exp.Equal(wantExp) {
			t.Fatalf("refresh %d expires %v, want %v", i, exp.Sub(signIn), wantExp.Sub(signIn))
		}
		if at := int64(parseUnverified(t, tok)["auth_time"].(float64)); at != signIn.Unix() {
			t.Fatalf("refresh %d: auth_time moved to %v", i, time.Unix(at, 0))
		}
	}
	clock = signIn.Add(150*time.Minute + time.Second)
	// The last token is still within the 30 s leeway, so only the session bound refuses it.
	if _, _, _, err := v.Refresh(tok); CodeOf(err) != CodeSessionOver {
		t.Fatalf("refresh past the session: %v", err)
	}
	// A token without auth_time or iat cannot be refreshed.
	bare := sign(t, jwt.SigningMethodHS256, secret, "", jwt.MapClaims{"sub": "a", "exp": clock.Add(time.Hour).Unix()})
	if _, _, _, err := v.Refresh(bare); CodeOf(err) != CodeInvalid {
		t.Fatalf("bare token: %v", err)
	}
}

// jwksServer serves the public halves of keys and counts fetches; keys can be swapped to model
// a provider's rotation.
type jwksServer struct {
	keys    atomic.Pointer[map[string]*rsa.PrivateKey]
	fetches atomic.Int32
	*httptest.Server
}

func newJWKSServer(t *testing.T, keys map[string]*rsa.PrivateKey) *jwksServer {
	s := &jwksServer{}
	s.keys.Store(&keys)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.fetches.Add(1)
		var doc struct {
			Keys []map[string]string `json:"keys"`
		}
		for kid, k := range *s.keys.Load() {
			doc.Keys = append(doc.Keys, map[string]string{
				"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
				"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
			})
		}
		_ = json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(s.Close)
	return s
}

func rsaKey2048(t *testing.T) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestJWKSVerifiesAndRefreshesOnUnknownKid(t *testing.T) {
	k1, k2, stranger := rsaKey2048(t), rsaKey2048(t), rsaKey2048(t)
	srv := newJWKSServer(t, map[string]*rsa.PrivateKey{"k1": k1})
	clock := time.Now()
	now := func() time.Time { return clock }
	jwks := NewJWKS(srv.URL, JWKSOptions{MinRefresh: 10 * time.Second, Now: now})
	v, err := NewVerifier(Options{JWKS: jwks, AdminGroup: "yard-admins", Audience: "yard", Issuer: "idp", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	claims := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": "bob", "aud": "yard", "iss": "idp", "groups": []string{"yard-admins"}, "exp": clock.Add(time.Hour).Unix()}
	}

	u, err := v.Verify(sign(t, jwt.SigningMethodRS256, k1, "k1", claims()))
	if err != nil || u.Name != "bob" || !u.Admin {
		t.Fatalf("k1 token: %+v, %v", u, err)
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1", n)
	}

	// A key id the JWKS does not have: refused, and within MinRefresh no second fetch.
	_, err = v.Verify(sign(t, jwt.SigningMethodRS256, stranger, "k9", claims()))
	if CodeOf(err) != CodeUnknownKey {
		t.Fatalf("unknown kid: code %q (%v)", CodeOf(err), err)
	}
	// A token signed by another key under a known kid is a forgery.
	_, err = v.Verify(sign(t, jwt.SigningMethodRS256, stranger, "k1", claims()))
	if CodeOf(err) != CodeInvalid {
		t.Fatalf("forged RS256: code %q (%v)", CodeOf(err), err)
	}
	// An HS256 token is not accepted when only JWKS is configured (algorithm confusion).
	_, err = v.Verify(sign(t, jwt.SigningMethodHS256, secret, "k1", claims()))
	if err == nil {
		t.Fatal("HS256 token accepted by a JWKS-only verifier")
	}

	// The provider rotates to k2; after MinRefresh the unknown kid triggers a refetch.
	srv.keys.Store(&map[string]*rsa.PrivateKey{"k2": k2})
	clock = clock.Add(11 * time.Second)
	if _, err := v.Verify(sign(t, jwt.SigningMethodRS256, k2, "k2", claims())); err != nil {
		t.Fatalf("k2 after rotation: %v", err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2", n)
	}
	if v.CanIssue() {
		t.Fatal("a JWKS-only verifier must not issue tokens")
	}
}

func TestTicketsAreSingleUseAndExpire(t *testing.T) {
	clock := time.Now()
	store := NewMemoryTickets(func() time.Time { return clock })
	ctx := context.Background()
	alice := identity.User{ID: "alice", Name: "alice"}

	tk, exp, err := store.Issue(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	if d := exp.Sub(clock); d != TicketTTL {
		t.Fatalf("ticket lives %v, want %v", d, TicketTTL)
	}
	if u, err := store.Redeem(ctx, tk); err != nil || u.ID != "alice" {
		t.Fatalf("first redeem: %+v, %v", u, err)
	}
	if _, err := store.Redeem(ctx, tk); CodeOf(err) != CodeTicketInvalid {
		t.Fatalf("reuse: %v", err)
	}

	tk2, _, _ := store.Issue(ctx, alice)
	clock = clock.Add(TicketTTL + time.Second)
	if _, err := store.Redeem(ctx, tk2); CodeOf(err) != CodeTicketInvalid {
		t.Fatalf("expired: %v", err)
	}
	if _, err := store.Redeem(ctx, "made-up"); CodeOf(err) != CodeTicketInvalid {
		t.Fatalf("unknown: %v", err)
	}
}

// A user may hold MaxTicketsPerUser unredeemed tickets; redeeming or expiry frees a slot, and
// expired tickets leave the store on the next issue without a sweep over every ticket.
func TestTicketsPerUserCapAndExpiry(t *testing.T) {
	clock := time.Now()
	store := NewMemoryTickets(func() time.Time { return clock })
	ctx := context.Background()
	mallory, bob := identity.User{ID: "mallory"}, identity.User{ID: "bob"}
	var first string
	for i := range MaxTicketsPerUser {
		tk, _, err := store.Issue(ctx, mallory)
		if err != nil {
			t.Fatalf("ticket %d: %v", i, err)
		}
		if i == 0 {
			first = tk
		}
	}
	if _, _, err := store.Issue(ctx, mallory); CodeOf(err) != CodeTicketLimit {
		t.Fatalf("ticket %d: %v, want %q", MaxTicketsPerUser+1, err, CodeTicketLimit)
	}
	if _, _, err := store.Issue(ctx, bob); err != nil {
		t.Fatalf("another user: %v", err)
	}
	if _, err := store.Redeem(ctx, first); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.Issue(ctx, mallory); err != nil {
		t.Fatalf("after a redeem: %v", err)
	}
	clock = clock.Add(TicketTTL + time.Second)
	if _, _, err := store.Issue(ctx, mallory); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if n := store.Len(); n != 1 {
		t.Fatalf("%d tickets held after expiry, want the one just issued", n)
	}
}
