package jwtauthn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// MaxJWKSBytes bounds a key set, inline or fetched (W13: a 50 MB JWKS must not
// be read whole).
const MaxJWKSBytes = 1 << 20

// ParseJWKS decodes a key set and keeps only public signature keys: symmetric
// ("oct") keys are dropped, so an HS* token could not verify even if the
// allow-list let it through; private keys are reduced to their public half;
// keys marked for encryption ("use": "enc") are dropped. An empty result is
// an error: no key means every token fails, and we would rather say why.
func ParseJWKS(data []byte) (*jose.JSONWebKeySet, error) {
	if len(data) > MaxJWKSBytes {
		return nil, fmt.Errorf("jwks: %d bytes exceeds %d", len(data), MaxJWKSBytes)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	out := &jose.JSONWebKeySet{}
	for _, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if _, symmetric := k.Key.([]byte); symmetric || !k.Valid() {
			continue
		}
		if !k.IsPublic() {
			k = k.Public()
		}
		out.Keys = append(out.Keys, k)
	}
	if len(out.Keys) == 0 {
		return nil, errors.New("jwks: no usable public signature keys")
	}
	return out, nil
}

// Fetcher retrieves a JWKS document. The waypoint injects one that reaches
// workloads inside the simulator; tests inject fakes.
type Fetcher interface {
	FetchJWKS(ctx context.Context, uri string) ([]byte, error)
}

// FetcherFunc adapts a function to Fetcher.
type FetcherFunc func(ctx context.Context, uri string) ([]byte, error)

func (f FetcherFunc) FetchJWKS(ctx context.Context, uri string) ([]byte, error) { return f(ctx, uri) }

// KeyCacheConfig tunes a KeyCache.
type KeyCacheConfig struct {
	Fetcher Fetcher
	// TTL is how long fetched keys are trusted. After it, a failed refetch
	// fails closed (W13 "cache until TTL only"). 0 means 20 min, istiod's
	// PILOT_JWT_PUB_KEY_REFRESH_INTERVAL default.
	TTL time.Duration
	// Timeout bounds one fetch; 0 means 5 s.
	Timeout time.Duration
	// MinRefresh rate-limits refetches triggered by an unknown kid (key
	// rotation); 0 means 30 s.
	MinRefresh time.Duration
	Now        func() time.Time
	Logger     *slog.Logger
}

// KeyCache fetches and caches remote key sets per URI.
type KeyCache struct {
	cfg KeyCacheConfig

	mu      sync.Mutex
	entries map[string]*cacheEntry
}

type cacheEntry struct {
	mu        sync.Mutex // serializes fetches of one URI
	keys      *jose.JSONWebKeySet
	fetchedAt time.Time
	tried     time.Time
}

// NewKeyCache validates cfg and fills defaults.
func NewKeyCache(cfg KeyCacheConfig) (*KeyCache, error) {
	if cfg.Fetcher == nil {
		return nil, errors.New("jwtauthn: KeyCache needs a Fetcher")
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 20 * time.Minute
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.MinRefresh <= 0 {
		cfg.MinRefresh = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &KeyCache{cfg: cfg, entries: map[string]*cacheEntry{}}, nil
}

// Keys returns the key set for uri, fetching when there is none, when the TTL
// has passed, or when refresh is set (unknown kid) and MinRefresh has passed
// since the last attempt. Any failure without fresh keys is an error: the
// caller answers 401, never with a default key (ISTIO-SECURITY-2026-001).
func (c *KeyCache) Keys(ctx context.Context, uri string, refresh bool) (*jose.JSONWebKeySet, error) {
	c.mu.Lock()
	e := c.entries[uri]
	if e == nil {
		e = &cacheEntry{}
		c.entries[uri] = e
	}
	c.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	now := c.cfg.Now()
	fresh := e.keys != nil && now.Sub(e.fetchedAt) < c.cfg.TTL
	if fresh && !(refresh && now.Sub(e.tried) >= c.cfg.MinRefresh) {
		return e.keys, nil
	}
	if refresh && fresh {
		// Rotation probe: keep serving the fresh set if the refetch fails.
		if keys, err := c.fetch(ctx, uri, e, now); err == nil {
			return keys, nil
		}
		return e.keys, nil
	}
	return c.fetch(ctx, uri, e, now)
}

func (c *KeyCache) fetch(ctx context.Context, uri string, e *cacheEntry, now time.Time) (*jose.JSONWebKeySet, error) {
	e.tried = now
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	data, err := c.cfg.Fetcher.FetchJWKS(ctx, uri)
	if err == nil {
		var keys *jose.JSONWebKeySet
		if keys, err = ParseJWKS(data); err == nil {
			e.keys, e.fetchedAt = keys, now
			return keys, nil
		}
	}
	if now.Sub(e.fetchedAt) >= c.cfg.TTL {
		e.keys = nil // expired keys are never used again
	}
	c.cfg.Logger.Warn("jwks fetch failed", "uri", uri, "error", err)
	return nil, fmt.Errorf("jwks %s: %w", uri, err)
}
