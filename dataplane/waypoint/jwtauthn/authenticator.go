package jwtauthn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Result is what a validated token contributes to authorization. The zero
// Result (no token) has no principal.
type Result struct {
	// Principal is "<iss>/<sub>", Istio's request.auth.principal.
	Principal string
	Issuer    string
	Subject   string
	Audiences []string
	Presenter string
	// Claims is the decoded payload, for `when: request.auth.claims[...]`.
	Claims map[string]any
}

// Authenticator validates request tokens against a fixed set of rules. It is
// safe for concurrent use; rebuild it when RequestAuthentications change.
type Authenticator struct {
	rules     []compiledRule
	locations []*location
	keys      *KeyCache
	algs      []jose.SignatureAlgorithm
	skew      time.Duration
	maxBytes  int
	now       func() time.Time
	// outputHeaders are removed from every request before authentication so
	// a client can never pre-set them (W9).
	outputHeaders []string
}

type compiledRule struct {
	Rule
	inline *jose.JSONWebKeySet
	locs   map[string]bool
}

// New compiles cfg. Inline key sets are parsed now, so a bad one is a
// configuration error rather than a 401 per request.
func New(cfg Config) (*Authenticator, error) {
	a := &Authenticator{keys: cfg.Keys, algs: cfg.Algorithms, skew: cfg.ClockSkew, maxBytes: cfg.MaxTokenBytes, now: cfg.Now}
	if a.algs == nil {
		a.algs = DefaultAlgorithms
	}
	if a.skew == 0 {
		a.skew = DefaultClockSkew
	}
	if a.maxBytes == 0 {
		a.maxBytes = DefaultMaxTokenBytes
	}
	if a.now == nil {
		a.now = time.Now
	}
	byKey := map[string]*location{}
	outs := map[string]bool{}
	for i := range cfg.Rules {
		r := cfg.Rules[i]
		if r.Issuer == "" {
			return nil, fmt.Errorf("jwtauthn: rule %d: empty issuer", i)
		}
		cr := compiledRule{Rule: r, locs: map[string]bool{}}
		switch {
		case r.JWKS != "" && r.JWKSURI != "":
			return nil, fmt.Errorf("jwtauthn: rule %s: both jwks and jwksUri", r.Issuer)
		case r.JWKS != "":
			keys, err := ParseJWKS([]byte(r.JWKS))
			if err != nil {
				return nil, fmt.Errorf("jwtauthn: rule %s: %w", r.Issuer, err)
			}
			cr.inline = keys
		case r.JWKSURI != "":
			if cfg.Keys == nil {
				return nil, fmt.Errorf("jwtauthn: rule %s: jwksUri without a KeyCache", r.Issuer)
			}
		default:
			// istiod resolves a missing JWKS through OIDC discovery; we have
			// none, and a rule without keys can only reject its tokens.
		}
		for _, l := range ruleLocations(&r) {
			loc := byKey[l.key()]
			if loc == nil {
				loc = &location{header: l.header, prefix: l.prefix, param: l.param, issuers: map[string]bool{}}
				byKey[l.key()] = loc
				a.locations = append(a.locations, loc)
			}
			loc.issuers[r.Issuer] = true
			cr.locs[l.key()] = true
		}
		if r.OutputPayloadToHeader != "" {
			outs[http.CanonicalHeaderKey(r.OutputPayloadToHeader)] = true
		}
		for _, c := range r.OutputClaimToHeaders {
			outs[http.CanonicalHeaderKey(c.Header)] = true
		}
		a.rules = append(a.rules, cr)
	}
	for h := range outs {
		a.outputHeaders = append(a.outputHeaders, h)
	}
	sort.Strings(a.outputHeaders)
	return a, nil
}

// Authenticate validates the request's token, if any, and edits h: output
// headers are always cleared first; on success they are set, and the token
// header is removed unless the rule forwards it. rawQuery is the query of the
// normalized target. A nil *Error with a zero Result means "no token".
func (a *Authenticator) Authenticate(ctx context.Context, h http.Header, rawQuery string) (Result, *Error) {
	for _, name := range a.outputHeaders {
		h.Del(name)
	}
	if len(a.rules) == 0 {
		return Result{}, nil
	}
	query, _ := url.ParseQuery(rawQuery) // unparsable pairs are simply not tokens
	toks := findTokens(a.locations, h, query)
	switch {
	case len(toks) == 0:
		return Result{}, nil
	case len(toks) > 1:
		return Result{}, fail(FailureMultipleTokens, fmt.Errorf("%d tokens", len(toks)))
	}
	tok := toks[0]
	if len(tok.value) > a.maxBytes {
		return Result{}, fail(FailureTooLarge, fmt.Errorf("%d bytes", len(tok.value)))
	}
	if strings.Count(tok.value, ".") != 2 {
		return Result{}, fail(FailureMalformed, nil)
	}
	parsed, err := jwt.ParseSigned(tok.value, a.algs)
	if err != nil {
		return Result{}, fail(FailureSignature, err)
	}
	var unverified jwt.Claims
	if err := parsed.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return Result{}, fail(FailureMalformed, err)
	}
	var firstErr *Error
	matched := false
	for i := range a.rules {
		r := &a.rules[i]
		if r.Issuer != unverified.Issuer || !r.locs[tok.loc.key()] {
			continue
		}
		matched = true
		res, ferr := a.verify(ctx, r, parsed)
		if ferr == nil {
			a.applyOutputs(r, h, tok, res)
			return res, nil
		}
		if firstErr == nil {
			firstErr = ferr
		}
	}
	if !matched {
		return Result{}, fail(FailureIssuerNotConfigured, fmt.Errorf("issuer %q", unverified.Issuer))
	}
	return Result{}, firstErr
}

func (a *Authenticator) verify(ctx context.Context, r *compiledRule, t *jwt.JSONWebToken) (Result, *Error) {
	hdr := t.Headers[0]
	keys := r.inline
	if r.JWKSURI != "" {
		var err error
		if keys, err = a.keys.Keys(ctx, r.JWKSURI, false); err != nil {
			return Result{}, fail(FailureJWKSUnavailable, err)
		}
		if len(candidates(keys, hdr)) == 0 && hdr.KeyID != "" {
			// An unknown kid may be a rotation: refetch (rate-limited).
			if keys, err = a.keys.Keys(ctx, r.JWKSURI, true); err != nil {
				return Result{}, fail(FailureJWKSUnavailable, err)
			}
		}
	}
	if keys == nil {
		return Result{}, fail(FailureKeyNotFound, errors.New("rule has no keys"))
	}
	cands := candidates(keys, hdr)
	if len(cands) == 0 {
		return Result{}, fail(FailureKeyNotFound, fmt.Errorf("kid %q alg %q", hdr.KeyID, hdr.Algorithm))
	}
	var std jwt.Claims
	var all map[string]any
	verified := false
	for _, k := range cands {
		if err := t.Claims(k.Key, &std, &all); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return Result{}, fail(FailureSignature, nil)
	}
	if std.Issuer != r.Issuer {
		return Result{}, fail(FailureIssuerNotConfigured, nil)
	}
	if err := a.checkTime(&std); err != nil {
		return Result{}, err
	}
	if len(r.Audiences) > 0 && !anyAudience(std.Audience, r.Audiences) {
		return Result{}, fail(FailureAudience, fmt.Errorf("aud %v", []string(std.Audience)))
	}
	res := Result{Issuer: std.Issuer, Subject: std.Subject, Audiences: std.Audience, Claims: all}
	res.Principal = std.Issuer + "/" + std.Subject
	if azp, ok := all["azp"].(string); ok {
		res.Presenter = azp
	}
	return res, nil
}

// candidates: keys whose kid matches (all keys when the token has no kid, as
// Envoy does) and whose declared alg, if any, is the token's (RFC 8725 §3.1).
func candidates(set *jose.JSONWebKeySet, hdr jose.Header) []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for _, k := range set.Keys {
		if hdr.KeyID != "" && k.KeyID != hdr.KeyID {
			continue
		}
		if k.Algorithm != "" && k.Algorithm != hdr.Algorithm {
			continue
		}
		out = append(out, k)
	}
	return out
}

// checkTime: exp and nbf are optional (as in Envoy without require_expiration)
// but, when present, honoured with the bounded skew.
func (a *Authenticator) checkTime(c *jwt.Claims) *Error {
	now := a.now()
	if c.Expiry != nil && !now.Before(c.Expiry.Time().Add(a.skew)) {
		return fail(FailureExpired, nil)
	}
	if c.NotBefore != nil && now.Add(a.skew).Before(c.NotBefore.Time()) {
		return fail(FailureNotYetValid, nil)
	}
	return nil
}

func anyAudience(got jwt.Audience, allowed []string) bool {
	for _, g := range got {
		for _, w := range allowed {
			if g == w {
				return true
			}
		}
	}
	return false
}

func (a *Authenticator) applyOutputs(r *compiledRule, h http.Header, tok token, res Result) {
	if !r.ForwardOriginalToken && tok.loc.header != "" {
		h.Del(tok.loc.header)
	}
	if r.OutputPayloadToHeader != "" {
		parts := strings.Split(tok.value, ".")
		h.Set(r.OutputPayloadToHeader, strings.TrimRight(parts[1], "="))
	}
	for _, c := range r.OutputClaimToHeaders {
		if v, ok := claimString(res.Claims[c.Claim]); ok {
			h.Set(c.Header, v)
		}
	}
}

// claimString renders the claim types Envoy's claim_to_headers supports
// (string, number, bool); others are skipped. Values with control bytes are
// skipped too, so a claim can never inject a header line.
func claimString(v any) (string, bool) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case bool:
		s = strconv.FormatBool(x)
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		s = x.String()
	default:
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 && s[i] != '\t' || s[i] == 0x7f {
			return "", false
		}
	}
	return s, true
}
