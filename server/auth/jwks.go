package auth

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"sync"
	"time"
)

// JWKS holds an OIDC provider's RSA signing keys by key id. Keys are fetched on first use and
// again whenever a token names a key id the cache lacks (the provider rotated its keys), at most
// once per MinRefresh so a stream of forged key ids cannot turn into a stream of fetches.
type JWKS struct {
	url        string
	client     *http.Client
	minRefresh time.Duration
	now        func() time.Time

	mu        sync.Mutex
	keys      map[string]*rsa.PublicKey
	fetchedAt time.Time
}

// JWKSOptions tune a JWKS cache. Zero values take the defaults.
type JWKSOptions struct {
	// Client fetches the document. Default: a client with a 10 s timeout.
	Client *http.Client
	// MinRefresh is the shortest time between two fetches. Default 10 s.
	MinRefresh time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// NewJWKS returns a cache for the JWKS at url. Nothing is fetched until a key is needed.
func NewJWKS(url string, o JWKSOptions) *JWKS {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if o.MinRefresh == 0 {
		o.MinRefresh = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &JWKS{url: url, client: o.Client, minRefresh: o.MinRefresh, now: o.Now}
}

// Key returns the key with id kid, fetching the document when it is not cached.
func (j *JWKS) Key(kid string) (*rsa.PublicKey, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if k, ok := j.keys[kid]; ok {
		return k, nil
	}
	if j.keys != nil && j.now().Sub(j.fetchedAt) < j.minRefresh {
		return nil, fmt.Errorf("key id %q not in the JWKS", kid)
	}
	// Holding the lock while fetching is deliberate: concurrent misses wait for one fetch.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	keys, err := j.fetch(ctx)
	j.fetchedAt = j.now()
	if err != nil {
		return nil, fmt.Errorf("fetching JWKS: %w", err)
	}
	j.keys = keys
	if k, ok := j.keys[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("key id %q not in the JWKS", kid)
}

type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
}

func (j *JWKS) fetch(ctx context.Context) (map[string]*rsa.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := j.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	keys := make(map[string]*rsa.PublicKey, len(doc.Keys))
	for _, k := range doc.Keys {
		if k.Kty != "RSA" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		pk, err := rsaKey(k)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k.Kid, err)
		}
		keys[k.Kid] = pk
	}
	if len(keys) == 0 {
		return nil, errors.New("no RSA signing keys")
	}
	return keys, nil
}

func rsaKey(k jwk) (*rsa.PublicKey, error) {
	n, err := base64.RawURLEncoding.DecodeString(k.N)
	if err != nil {
		return nil, fmt.Errorf("modulus: %w", err)
	}
	e, err := base64.RawURLEncoding.DecodeString(k.E)
	if err != nil {
		return nil, fmt.Errorf("exponent: %w", err)
	}
	if len(n) < 256 {
		return nil, errors.New("modulus shorter than 2048 bits")
	}
	if len(e) == 0 || len(e) > 4 {
		return nil, errors.New("bad exponent")
	}
	eInt := int(new(big.Int).SetBytes(e).Int64())
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: eInt}, nil
}
