package echo

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits as postmanlabs/httpbin sets them.
const (
	maxDelay = 10 * time.Second
	maxBytes = 100 * 1024
)

// httpbinHeaders returns headers the way httpbin prints them: canonical names,
// repeated values joined by commas, and Host included.
func httpbinHeaders(r *http.Request) map[string]string {
	out := make(map[string]string, len(r.Header)+1)
	for k, v := range r.Header {
		out[k] = strings.Join(v, ",")
	}
	if r.Host != "" {
		out["Host"] = r.Host
	}
	return out
}

// httpbinArgs maps query parameters to a string, or a list when repeated.
func httpbinArgs(v url.Values) map[string]any {
	out := make(map[string]any, len(v))
	for k, vs := range v {
		if len(vs) == 1 {
			out[k] = vs[0]
		} else {
			out[k] = vs
		}
	}
	return out
}

func httpbinURL(r *http.Request) string { return "http://" + r.Host + r.RequestURI }

func origin(r *http.Request) string {
	ip, _ := splitHostPort(r.RemoteAddr)
	return ip
}

func serveGet(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"args":    httpbinArgs(r.URL.Query()),
		"headers": httpbinHeaders(r),
		"origin":  origin(r),
		"url":     httpbinURL(r),
	})
}

// bodyEcho is httpbin's echo of a request with a body (/post, /anything, ...).
type bodyEcho struct {
	Args    map[string]any    `json:"args"`
	Data    string            `json:"data"`
	Files   map[string]any    `json:"files"`
	Form    map[string]any    `json:"form"`
	Headers map[string]string `json:"headers"`
	JSON    any               `json:"json"`
	Method  string            `json:"method,omitempty"`
	Origin  string            `json:"origin"`
	URL     string            `json:"url"`
}

func serveAnything(w http.ResponseWriter, r *http.Request, withMethod bool) {
	e, err := readBodyEcho(r)
	if err != nil {
		code := http.StatusBadRequest
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			code = http.StatusRequestEntityTooLarge
		}
		http.Error(w, err.Error(), code)
		return
	}
	if withMethod {
		e.Method = r.Method
	}
	writeJSON(w, http.StatusOK, e)
}

// readBodyEcho reads the (already size-bounded) body and sorts it into form,
// files or data/json as httpbin does.
func readBodyEcho(r *http.Request) (bodyEcho, error) {
	e := bodyEcho{
		Args:    httpbinArgs(r.URL.Query()),
		Files:   map[string]any{},
		Form:    map[string]any{},
		Headers: httpbinHeaders(r),
		Origin:  origin(r),
		URL:     httpbinURL(r),
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return e, fmt.Errorf("read body: %w", err)
	}
	mediaType, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mediaType {
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return e, fmt.Errorf("parse form: %w", err)
		}
		e.Form = httpbinArgs(form)
	case "multipart/form-data":
		if err := readMultipart(&e, body, params["boundary"]); err != nil {
			return e, err
		}
	default:
		e.Data = bodyString(body)
		var v any
		if json.Unmarshal(body, &v) == nil {
			e.JSON = v
		}
	}
	return e, nil
}

func readMultipart(e *bodyEcho, body []byte, boundary string) error {
	if boundary == "" {
		return errors.New("multipart: missing boundary")
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	form := url.Values{}
	files := url.Values{}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("multipart: %w", err)
		}
		// The whole body is already in memory and bounded, so a part is too.
		content, err := io.ReadAll(part)
		if err != nil {
			return fmt.Errorf("multipart: %w", err)
		}
		if part.FileName() != "" {
			files.Add(part.FormName(), bodyString(content))
		} else {
			form.Add(part.FormName(), bodyString(content))
		}
	}
	e.Form = httpbinArgs(form)
	e.Files = httpbinArgs(files)
	return nil
}

// bodyString returns text as is and binary as a base64 data URL, like httpbin.
func bodyString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return "data:application/octet-stream;base64," + base64.StdEncoding.EncodeToString(b)
}

// weightedCode is one choice of /status/{codes} or ?codes=.
type weightedCode struct {
	code   int
	weight float64
}

// parseCodes parses "code[:weight],..." (httpbin's /status list; Istio's echo
// ?codes= uses the same shape). Codes must be final responses (200-599): a Go
// server cannot send a 1xx as the final status.
func parseCodes(s string) ([]weightedCode, error) {
	var out []weightedCode
	for _, item := range strings.Split(s, ",") {
		codeStr, weightStr, hasWeight := strings.Cut(item, ":")
		code, err := strconv.Atoi(strings.TrimSpace(codeStr))
		if err != nil || code < 200 || code > 599 {
			return nil, fmt.Errorf("invalid status code %q", codeStr)
		}
		weight := 1.0
		if hasWeight {
			weight, err = strconv.ParseFloat(strings.TrimSpace(weightStr), 64)
			if err != nil || weight < 0 || math.IsInf(weight, 0) || math.IsNaN(weight) {
				return nil, fmt.Errorf("invalid weight %q", weightStr)
			}
		}
		out = append(out, weightedCode{code, weight})
	}
	return out, nil
}

// pickCode draws a code with probability proportional to its weight.
func pickCode(codes []weightedCode, rng *lockedRand) int {
	if len(codes) == 1 {
		return codes[0].code
	}
	total := 0.0
	for _, c := range codes {
		total += c.weight
	}
	if total == 0 {
		return codes[len(codes)-1].code
	}
	x := rng.float64() * total
	for _, c := range codes {
		if x < c.weight {
			return c.code
		}
		x -= c.weight
	}
	return codes[len(codes)-1].code
}

func serveStatus(w http.ResponseWriter, spec string, rng *lockedRand) {
	codes, err := parseCodes(spec)
	if err != nil {
		http.Error(w, "Invalid status code", http.StatusBadRequest)
		return
	}
	code := pickCode(codes, rng)
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusUseProxy, http.StatusTemporaryRedirect:
		w.Header().Set("Location", "/redirect/1")
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Basic realm="Fake Realm"`)
	}
	w.WriteHeader(code)
}

// serveDelay answers after min(s, 10) seconds, or gives up silently when the
// client goes away (or the server is forced down) first.
func serveDelay(w http.ResponseWriter, r *http.Request, spec string) {
	secs, err := strconv.ParseFloat(spec, 64)
	if err != nil || secs < 0 || math.IsNaN(secs) {
		http.Error(w, "invalid delay", http.StatusBadRequest)
		return
	}
	d := maxDelay
	if secs < maxDelay.Seconds() {
		d = time.Duration(secs * float64(time.Second))
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		return
	}
	e, err := readBodyEcho(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func serveUUID(w http.ResponseWriter) {
	var b [16]byte
	_, _ = rand.Read(b[:])  // crypto/rand.Read never fails on Linux
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	u := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	writeJSON(w, http.StatusOK, map[string]string{"uuid": u})
}

// serveBytes returns n (≤ 100 KiB) pseudo-random bytes, reproducible with ?seed=.
func serveBytes(w http.ResponseWriter, r *http.Request, spec string, rng *lockedRand) {
	n, err := strconv.Atoi(spec)
	if err != nil || n < 0 {
		http.Error(w, "invalid byte count", http.StatusBadRequest)
		return
	}
	n = min(n, maxBytes)
	seed := rng.uint64()
	if s := r.URL.Query().Get("seed"); s != "" {
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			http.Error(w, "invalid seed", http.StatusBadRequest)
			return
		}
	}
	src := mrand.New(mrand.NewPCG(seed, seed))
	buf := make([]byte, n)
	for i := range buf {
		buf[i] = byte(src.Uint32())
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(n))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf)
}
