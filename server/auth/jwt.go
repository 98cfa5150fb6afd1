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

// Claims are the JWT claims Yard reads. Provider tokens may carry the name as "name" or
// "preferred_username"; groups as "groups".
type Claims struct {
	Name              string   `json:"name,omitempty"`
	PreferredUsername string   `json:"preferred_username,omitempty"`
	Groups            []string `json:"groups,omitempty"`
	Admin             bool     `json:"admin,omitempty"`
	jwt.RegisteredClaims
}

// Options configure a Verifier.
type Options struct {
	// Secret verifies HS256 tokens and signs the ones Yard issues. Empty: HS256 is not accepted
	// and Yard issues no tokens.
	Secret []byte
	// JWKS verifies RS256 tokens; nil: RS256 is not accepted.
	JWKS *JWKS
	// AdminGroup makes its members admins.
	AdminGroup string
	// TokenTTL is the lifetime of tokens Yard issues.
	TokenTTL time.Duration
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
	var methods []string
	if len(opts.Secret) > 0 {
		methods = append(methods, jwt.SigningMethodHS256.Alg())
	}
	if opts.JWKS != nil {
		methods = append(methods, jwt.SigningMethodRS256.Alg())
	}
	return &Verifier{
		opts: opts,
		parser: jwt.NewParser(
			jwt.WithValidMethods(methods),
			jwt.WithExpirationRequired(),
			jwt.WithTimeFunc(opts.Now),
			jwt.WithLeeway(30*time.Second),
		),
	}, nil
}

// CanIssue reports whether this Verifier signs tokens (dev login, refresh).
func (v *Verifier) CanIssue() bool { return len(v.opts.Secret) > 0 }

// Verify checks a bearer token and returns its user.
func (v *Verifier) Verify(token string) (identity.User, error) {
	if token == "" {
		return identity.User{}, authErr(CodeMissing, "no bearer token", nil)
	}
	var claims Claims
	_, err := v.parser.ParseWithClaims(token, &claims, v.key)
	if err != nil {
		switch {
		case errors.Is(err, jwt.ErrTokenExpired):
			return identity.User{}, authErr(CodeExpired, "token expired", nil)
		case errors.Is(err, errUnknownKid):
			return identity.User{}, authErr(CodeUnknownKey, "token signed with an unknown key", nil)
		default:
			// jwt's messages describe the failure, never the token's content.
			return identity.User{}, authErr(CodeInvalid, "token rejected", err)
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

func (v *Verifier) userOf(c Claims) (identity.User, error) {
	name := c.Name
	if name == "" {
		name = c.PreferredUsername
	}
	if name == "" {
		name = c.Subject
	}
	if name == "" {
		return identity.User{}, authErr(CodeInvalid, "token names no user (sub, name or preferred_username)", nil)
	}
	id := c.Subject
	if id == "" {
		id = name
	}
	return identity.User{
		ID:     id,
		Name:   name,
		Groups: c.Groups,
		Admin:  c.Admin || (v.opts.AdminGroup != "" && slices.Contains(c.Groups, v.opts.AdminGroup)),
	}, nil
}

// Issue signs a token for u that expires after the configured TTL.
func (v *Verifier) Issue(u identity.User) (token string, expiresAt time.Time, err error) {
	if !v.CanIssue() {
		return "", time.Time{}, authErr(CodeRefreshNotHere, "this server verifies tokens of an identity provider and issues none", nil)
	}
	now := v.opts.Now()
	expiresAt = now.Add(v.opts.TokenTTL)
	claims := Claims{
		Name:   u.Name,
		Groups: u.Groups,
		Admin:  u.Admin,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   u.ID,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Second)),
			ExpiresAt: jwt.NewNumericDate(expiresAt),
			ID:        randomID(12),
			Issuer:    "yard",
		},
	}
	token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(v.opts.Secret)
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
