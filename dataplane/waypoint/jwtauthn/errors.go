package jwtauthn

import (
	"fmt"
	"net/http"
)

// Failure classifies why a request failed authentication. Every failure is a
// 401; Text is the body Envoy's jwt_authn sends for the same case, so clients
// and conformance checks see upstream's strings.
type Failure uint8

const (
	FailureMalformed Failure = iota + 1
	FailureSignature
	FailureIssuerNotConfigured
	FailureExpired
	FailureNotYetValid
	FailureAudience
	FailureKeyNotFound
	FailureJWKSUnavailable
	FailureMultipleTokens
	FailureTooLarge
)

var failureText = [...]string{
	FailureMalformed:           "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections",
	FailureSignature:           "Jwt verification fails",
	FailureIssuerNotConfigured: "Jwt issuer is not configured",
	FailureExpired:             "Jwt is expired",
	FailureNotYetValid:         "Jwt not yet valid",
	FailureAudience:            "Audiences in Jwt are not allowed",
	FailureKeyNotFound:         "Jwks doesn't have key to match kid or alg from Jwt",
	FailureJWKSUnavailable:     "Jwks remote fetch is failed",
	// Our own texts: Envoy has no such failure.
	FailureMultipleTokens: "Jwt verification fails: more than one token in the request",
	FailureTooLarge:       "Jwt verification fails: token too large",
}

var failureNames = [...]string{
	FailureMalformed: "Malformed", FailureSignature: "Signature", FailureIssuerNotConfigured: "IssuerNotConfigured",
	FailureExpired: "Expired", FailureNotYetValid: "NotYetValid", FailureAudience: "Audience",
	FailureKeyNotFound: "KeyNotFound", FailureJWKSUnavailable: "JWKSUnavailable",
	FailureMultipleTokens: "MultipleTokens", FailureTooLarge: "TooLarge",
}

func (f Failure) String() string {
	if f >= FailureMalformed && int(f) < len(failureNames) {
		return failureNames[f]
	}
	return fmt.Sprintf("Failure(%d)", uint8(f))
}

// Text is the response body.
func (f Failure) Text() string {
	if f >= FailureMalformed && int(f) < len(failureText) {
		return failureText[f]
	}
	return failureText[FailureSignature]
}

// Error is an authentication failure; Err carries detail for logs only.
type Error struct {
	Failure Failure
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return "jwtauthn: " + e.Failure.Text() + ": " + e.Err.Error()
	}
	return "jwtauthn: " + e.Failure.Text()
}

func (e *Error) Unwrap() error { return e.Err }

// Status is always 401 (ambient-semantics §8).
func (e *Error) Status() int { return http.StatusUnauthorized }

func fail(f Failure, err error) *Error { return &Error{Failure: f, Err: err} }
