package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/ambientlab/ambientlab/sim/workload/loadgen"
)

// runLoadgen runs one benchmark measurement against a raw TCP echo and
// prints its JSON result. Unlike probe, a failed run is an error (exit 1):
// a benchmark must never record a partial or failed measurement.
func runLoadgen(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var rt runtimeFlags
	rt.register(fs)
	cfg := loadgen.DefaultConfig()
	mode := fs.String("mode", string(cfg.Mode), "rtt (ping-pong latency) or bulk (single-stream throughput)")
	fs.StringVar(&cfg.Addr, "addr", "", "HOST:PORT of a raw TCP echo server")
	fs.IntVar(&cfg.Size, "size", cfg.Size, "rtt: bytes per message, each way")
	fs.IntVar(&cfg.Warmup, "warmup", cfg.Warmup, "rtt: iterations discarded first")
	fs.IntVar(&cfg.N, "n", cfg.N, "rtt: iterations measured")
	fs.Int64Var(&cfg.Bytes, "bytes", cfg.Bytes, "bulk: bytes measured (each way)")
	fs.Int64Var(&cfg.WarmupBytes, "warmup-bytes", cfg.WarmupBytes, "bulk: bytes echoed before the clock starts")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "bound on the whole run, connect included")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var err error
	if cfg.Mode, err = loadgen.ParseMode(*mode); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	rt.apply()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(res)
}
