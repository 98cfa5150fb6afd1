package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/yardhq/yard/server/identity"
)

// Options configure a Verifier.
type Options struct {
	// Secret verifies HS256 tokens and signs the ones Yard issues. Empty: HS256 is not accepted
	// and Yard issues no tokens.
	Secret []byte
	// JWKS verifies RS256 tokens; nil: RS256 is not accepted.
	JWKS *JWKS
	// Audience and Issuer, when set, must be the token's aud and iss; the tokens Yard issues
	// carry them (Issuer "yard" when empty).
	Audience string
	Issuer   string
	// UserClaim names the claim that is the Kubernetes user name. Default "sub".
	UserClaim string
	// AdminGroup makes its members admins, decided at every verification.
	AdminGroup string
	// TokenTTL is the lifetime of tokens Yard issues.
	TokenTTL time.Duration
	// SessionMax bounds a session from its sign-in (auth_time): refresh issues no token past
	// it. Default 24h.
	SessionMax time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verifier checks bearer tokens and issues Yard's own.
type Verifier struct {
	opts   Options
	parser *jwt.Parser
}

// NewVerifier returns a Verifier. At least one of Secret and JWKS must be set.
func NewVerifier(opts Options) (*Verifier, error) {
	if len(opts.Secret) == 0 && opts.JWKS == nil {
		return nil, errors.New("auth: neither a secret nor a JWKS to verify tokens with")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.UserClaim == "" {
		opts.UserClaim = "sub"
	}
	if opts.SessionMax == 0 {
		opts.SessionMax = 24 * time.Hour
	}
	var methods []string
	if len(opts.Secret) > 0 {
		methods = append(methods, jwt.SigningMethodHS256.Alg())
	}
	if opts.JWKS != nil {
		methods = append(methods, jwt.SigningMethodRS256.Alg())
	}
	popts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(opts.Now),
		jwt.WithLeeway(30 * time.Second),
	}
	if opts.Audience != "" {
		popts = append(popts, jwt.WithAudience(opts.Audience))
	}
	if opts.Issuer != "" {
		popts = append(popts, jwt.WithIssuer(opts.Issuer))
	}
	return &Verifier{opts: opts, parser: jwt.NewParser(popts...)}, nil
}

// CanIssue reports whether this Verifier signs tokens (dev login, refresh).
func (v *Verifier) CanIssue() bool { return len(v.opts.Secret) > 0 }

// AdminGroup is the group whose members are admins.
func (v *Verifier) AdminGroup() string { return v.opts.AdminGroup }

// Verify checks a bearer token and returns its user.
func (v *Verifier) Verify(token string) (identity.User, error) {
	u, _, err := v.verify(token)
	return u, err
}

// verify also returns when the session began: auth_time, else iat, else zero.
func (v *Verifier) verify(token string) (identity.User, time.Time, error) {
	if token == "" {
		return identity.User{}, time.Time{}, authErr(CodeMissing, "no bearer token", nil)
	}
	claims := jwt.MapClaims{}
	_, err := v.parser.ParseWithClaims(token, claims, v.key)
	if err != nil {
		switch {
		case errors.Is(err, jwt.ErrTokenExpired):
			return identity.User{}, time.Time{}, authErr(CodeExpired, "token expired", nil)
		case errors.Is(err, errUnknownKid):
			return identity.User{}, time.Time{}, authErr(CodeUnknownKey, "token signed with an unknown key", nil)
		case errors.Is(err, jwt.ErrTokenInvalidAudience):
			return identity.User{}, time.Time{}, authErr(CodeAudience, "token is not for this audience", nil)
		case errors.Is(err, jwt.ErrTokenInvalidIssuer):
			return identity.User{}, time.Time{}, authErr(CodeIssuer, "token is not from the expected issuer", nil)
		default:
			// jwt's messages describe the failure, never the token's content.
			return identity.User{}, time.Time{}, authErr(CodeInvalid, "token rejected", err)
		}
	}
	return v.userOf(claims)
}

var errUnknownKid = errors.New("unknown key id")

func (v *Verifier) key(t *jwt.Token) (any, error) {
	switch t.Method.Alg() {
	case jwt.SigningMethodHS256.Alg():
		return v.opts.Secret, nil
	case jwt.SigningMethodRS256.Alg():
		kid, _ := t.Header["kid"].(string)
		k, err := v.opts.JWKS.Key(kid)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errUnknownKid, err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("signing method %s not accepted", t.Method.Alg())
}

// reservedPrefix marks Kubernetes' own users and groups (system:masters, system:nodes,
// system:kube-scheduler, ...): impersonating them would hand out the control plane's rights.
const reservedPrefix = "system:"

func (v *Verifier) userOf(c jwt.MapClaims) (identity.User, time.Time, error) {
	str := func(k string) string { s, _ := c[k].(string); return s }
	sub := str("sub")
	name := str(v.opts.UserClaim)
	if name == "" {
		return identity.User{}, time.Time{}, authErr(CodeInvalid, "token has no "+v.opts.UserClaim+" claim (the user name)", nil)
	}
	var groups []string
	if raw, ok := c["groups"]; ok && raw != nil {
		list, ok := raw.([]any)
		if !ok {
			return identity.User{}, time.Time{}, authErr(CodeInvalid, "groups claim is not a list", nil)
		}
		for _, g := range list {
			s, ok := g.(string)
			if !ok {
				return identity.User{}, time.Time{}, authErr(CodeInvalid, "groups claim holds a non-string", nil)
			}
			groups = append(groups, s)
		}
	}
	if strings.HasPrefix(name, reservedPrefix) || slices.ContainsFunc(groups, func(g string) bool { return strings.HasPrefix(g, reservedPrefix) }) {
		return identity.User{}, time.Time{}, authErr(CodeReserved, "token names a reserved Kubernetes user or group (system:...)", nil)
	}
	display := str("name")
	if display == "" {
		display = str("preferred_username")
	}
	if display == "" {
		display = name
	}
	id := sub
	if id == "" {
		id = name
	}
	var began time.Time
	for _, k := range []string{"auth_time", "iat"} {
		if f, ok := c[k].(float64); ok && f > 0 {
			began = time.Unix(int64(f), 0)
			break
		}
	}
	return identity.User{
		ID:      id,
		Name:    name,
		Display: display,
		Groups:  groups,
		Admin:   v.opts.AdminGroup != "" && slices.Contains(groups, v.opts.AdminGroup),
	}, began, nil
}

// Issue signs a token for u that expires after the configured TTL; its session begins now.
func (v *Verifier) Issue(u identity.User) (token string, expiresAt time.Time, err error) {
	now := v.opts.Now()
	return v.issue(u, now, now.Add(v.opts.TokenTTL))
}

// Refresh verifies token and issues a new one for the same user and session. The new token
// expires after the TTL, but never after the session's end (its sign-in plus SessionMax); a
// session that has ended gets CodeSessionOver.
func (v *Verifier) Refresh(token string) (string, time.Time, identity.User, error) {
	u, began, err := v.verify(token)
	if err != nil {
		return "", time.Time{}, identity.User{}, err
	}
	if began.IsZero() {
		return "", time.Time{}, identity.User{}, authErr(CodeInvalid, "token carries no auth_time or iat; sign in again", nil)
	}
	now := v.opts.Now()
	end := began.Add(v.opts.SessionMax)
	if !now.Before(end) {
		return "", time.Time{}, identity.User{}, authErr(CodeSessionOver, "the session is over "+v.opts.SessionMax.String()+" old; sign in again", nil)
	}
	exp := now.Add(v.opts.TokenTTL)
	if exp.After(end) {
		exp = end
	}
	tok, exp, err := v.issue(u, began, exp)
	return tok, exp, u, err
}

func (v *Verifier) issue(u identity.User, began, expiresAt time.Time) (string, time.Time, error) {
	if !v.CanIssue() {
		return "", time.Time{}, authErr(CodeRefreshNotHere, "this server verifies tokens of an identity provider and issues none", nil)
	}
	now := v.opts.Now()
	iss := v.opts.Issuer
	if iss == "" {
		iss = "yard"
	}
	// Admin is not a claim: it follows from the groups each time a token is verified.
	claims := jwt.MapClaims{
		"sub":       u.ID,
		"iat":       now.Unix(),
		"nbf":       now.Add(-time.Second).Unix(),
		"exp":       expiresAt.Unix(),
		"auth_time": began.Unix(),
		"jti":       randomID(12),
		"iss":       iss,
	}
	claims[v.opts.UserClaim] = u.Name
	if u.Display != "" && u.Display != u.Name {
		claims["name"] = u.Display
	}
	if len(u.Groups) > 0 {
		claims["groups"] = u.Groups
	}
	if v.opts.Audience != "" {
		claims["aud"] = v.opts.Audience
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(v.opts.Secret)
	return token, expiresAt, err
}

// BearerToken extracts the token of an "Authorization: Bearer x" header value.
func BearerToken(header string) string {
	const p = "bearer "
	if len(header) > len(p) && strings.EqualFold(header[:len(p)], p) {
		return strings.TrimSpace(header[len(p):])
	}
	return ""
}

func randomID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("auth: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
