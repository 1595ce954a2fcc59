package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/ambientlab/ambientlab/sim/workload/probe"
)

// headerFlags collects repeated -H 'Key: Value' flags, as curl takes them.
type headerFlags http.Header

func (h headerFlags) String() string { return "" }

func (h headerFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, ":")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("header %q: want 'Key: Value'", v)
	}
	http.Header(h).Add(strings.TrimSpace(k), strings.TrimSpace(val))
	return nil
}

// runProbe makes one probe and prints its JSON result. The exit code is 0
// whenever a result was produced, whatever the outcome: judging it is the
// runner's job. Usage errors exit 2.
func runProbe(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var req probe.Request
	headers := headerFlags{}
	fs.StringVar(&req.URL, "url", "", "http:// or https:// URL to request")
	fs.StringVar(&req.TCP, "tcp", "", "HOST:PORT to connect to; sends --data (or a greeting), half-closes, reads the reply")
	fs.StringVar(&req.Method, "method", "", "HTTP method (default GET, or POST with --data)")
	fs.Var(headers, "H", "request header 'Key: Value' (repeatable)")
	fs.StringVar(&req.Body, "data", "", "request body (HTTP) or payload (TCP)")
	fs.BoolVar(&req.HTTP2, "http2", false, "HTTP/2 with prior knowledge (h2c)")
	fs.DurationVar(&req.Timeout, "timeout", 5*time.Second, "bound on the whole attempt")
	fs.StringVar(&req.Canary, "payload-canary", "", "string appended to the payload (and sent in "+probe.CanaryHeader+") for capture checks")
	fs.IntVar(&req.MaxBody, "max-body", probe.DefaultMaxBody, "bytes of the response body to keep")
	raw := fs.Bool("raw", false, "read a JSON array of raw requests (probe.RawRequest) on stdin, print a JSON array of results")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *raw {
		return runRawProbes(os.Stdin, stdout)
	}
	if len(headers) > 0 {
		req.Headers = http.Header(headers)
	}
	if err := req.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	res := probe.Run(context.Background(), req)
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	return enc.Encode(res)
}

// runRawProbes runs `probe --raw`: each request on its own connection, in
// order; results in the same order. A malformed batch is a usage error.
func runRawProbes(stdin io.Reader, stdout io.Writer) error {
	var reqs []probe.RawRequest
	dec := json.NewDecoder(io.LimitReader(stdin, 64<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&reqs); err != nil {
		return fmt.Errorf("%w: --raw: stdin is not a JSON array of raw requests: %v", errUsage, err)
	}
	results := make([]any, 0, len(reqs))
	for _, r := range reqs {
		results = append(results, probe.RunRaw(context.Background(), r))
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	return enc.Encode(results)
}
