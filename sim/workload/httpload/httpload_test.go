package httpload

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRunDistribution(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := n.Add(1)
		v := "v1"
		if k%4 == 0 {
			v = "v2"
		}
		w.Header().Set("X-Version", v)
		if k%5 == 0 {
			w.WriteHeader(503)
		}
		fmt.Fprintf(w, "ServiceVersion=%s\nHostname=pod\nMethod=%s\n", v, r.Method)
	}))
	defer srv.Close()
	for _, by := range []string{"status", "field:ServiceVersion", "header:X-Version", "field:Missing"} {
		n.Store(0)
		res, err := Run(context.Background(), Config{URL: srv.URL + "/", Count: 200, Concurrency: 4, Timeout: 5 * time.Second, By: by})
		if err != nil {
			t.Fatal(err)
		}
		if res.Responses != 200 || res.Statuses["503"] != 40 || res.Statuses["200"] != 160 {
			t.Fatalf("%s: %+v", by, res)
		}
		switch by {
		case "status":
			if res.Values["503"] != 40 {
				t.Errorf("by status: %v", res.Values)
			}
		case "field:Missing":
			if res.Values[None] != 200 {
				t.Errorf("missing field: %v", res.Values)
			}
		default:
			if res.Values["v2"] != 50 || res.Values["v1"] != 150 {
				t.Errorf("%s: %v", by, res.Values)
			}
		}
		if res.MinLatencyMS > res.P50LatencyMS || res.P50LatencyMS > res.MaxLatencyMS {
			t.Errorf("latency order: %+v", res)
		}
	}
}

func TestRunCountsErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	res, err := Run(context.Background(), Config{URL: url, Count: 5, Concurrency: 2, Timeout: time.Second})
	if err != nil || res.Responses != 0 || len(res.Errors) == 0 {
		t.Fatalf("%+v %v", res, err)
	}
	total := 0
	for _, c := range res.Errors {
		total += c
	}
	if total != 5 {
		t.Fatalf("errors %v", res.Errors)
	}
}

func TestValidate(t *testing.T) {
	good := Config{URL: "http://x/", Count: 1, Concurrency: 1, Timeout: time.Second}
	for _, c := range []func(*Config){
		func(c *Config) { c.URL = "https://x/" },
		func(c *Config) { c.Count = 0 },
		func(c *Config) { c.Count = MaxCount + 1 },
		func(c *Config) { c.Concurrency = 0 },
		func(c *Config) { c.Timeout = 0 },
		func(c *Config) { c.By = "body" },
		func(c *Config) { c.By = "field:" },
	} {
		cfg := good
		c(&cfg)
		if cfg.Validate() == nil {
			t.Errorf("accepted %+v", cfg)
		}
	}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
}
