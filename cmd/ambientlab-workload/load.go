package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/ambientlab/ambientlab/sim/workload/httpload"
)

// runLoad sends --count requests and prints the distribution of the
// responses as JSON (the scenario `load` step). Exit 0 whenever a result was
// produced; usage errors exit 2.
func runLoad(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg httpload.Config
	headers := headerFlags{}
	fs.StringVar(&cfg.URL, "url", "", "http:// URL to request")
	fs.StringVar(&cfg.Method, "method", "", "HTTP method (default GET)")
	fs.Var(headers, "H", "request header 'Key: Value' (repeatable)")
	fs.StringVar(&cfg.Body, "data", "", "request body")
	fs.BoolVar(&cfg.HTTP2, "http2", false, "HTTP/2 with prior knowledge (h2c)")
	fs.IntVar(&cfg.Count, "count", 100, "number of requests")
	fs.IntVar(&cfg.Concurrency, "concurrency", 4, "concurrent workers")
	fs.DurationVar(&cfg.Timeout, "timeout", 5*time.Second, "bound on each request")
	fs.StringVar(&cfg.By, "by", "status", "what to count: status, field:<Name> (echo report) or header:<Name>")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if len(headers) > 0 {
		cfg.Headers = http.Header(headers)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	res, err := httpload.Run(context.Background(), cfg)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	return enc.Encode(res)
}
