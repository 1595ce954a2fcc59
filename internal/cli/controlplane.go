package cli

import (
	"context"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ambientlab/ambientlab/sim/controlplane"
	"github.com/ambientlab/ambientlab/sim/controlplane/authz"
	"github.com/ambientlab/ambientlab/sim/controlplane/istiod"
	"github.com/ambientlab/ambientlab/sim/workload/ready"
)

// newControlPlaneCmd runs the simulated istiod (the process in the
// istio-system/istiod pod). Hidden: the simulator starts it, users don't.
// With --state it is the whole istiod (xDS, CA, node agents; package
// istiod); without, only the xDS server over --input.
func newControlPlaneCmd(g *globalOptions) *cobra.Command {
	cfg := controlplane.Config{}
	var stateDir, caListen string
	cmd := &cobra.Command{
		Use:    "controlplane",
		Short:  "Run the simulated istiod: serve workload API xDS computed from an input directory",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lay := istiod.Layout{Dir: stateDir}
			switch {
			case stateDir == "" && cfg.InputDir == "":
				return usageErr("--state or --input is required")
			case stateDir != "" && cfg.InputDir != "" && filepath.Clean(cfg.InputDir) != lay.InputDir():
				return usageErr("--input must be %s with --state", lay.InputDir())
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			reload := make(chan struct{}, 1)
			cfg.Reload = reload
			fwdCtx, cancelFwd := context.WithCancel(ctx)
			wait := forwardSignals(fwdCtx, hup, reload)
			defer func() { cancelFwd(); wait() }()
			cfg.Log = g.logger(cmd.ErrOrStderr())
			signalReady := func() {
				if err := ready.Signal(); err != nil {
					cfg.Log.Warn("readiness signal", "error", err)
				}
			}
			if stateDir == "" {
				cfg.OnListen = func(net.Addr) { signalReady() }
				return controlplane.Run(ctx, cfg)
			}
			return istiod.Run(ctx, istiod.Config{
				StateDir: stateDir, XDSListen: cfg.Listen, CAListen: caListen, RootNamespace: cfg.RootNamespace,
				PollInterval: cfg.PollInterval, Reload: reload, OnReady: signalReady, Log: cfg.Log,
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.InputDir, "input", "", "directory the simulator writes (controlplane.WriteInput); xDS only")
	f.StringVar(&stateDir, "state", "", "istiod state directory (input, netns map, ZDS sockets, bootstrap credentials): run xDS, CA and node agents")
	f.StringVar(&caListen, "ca-listen", ":15012", "CA listen address (TLS), with --state")
	f.StringVar(&cfg.Listen, "listen", ":15010", "xDS listen address (plaintext)")
	f.StringVar(&cfg.RootNamespace, "root-namespace", authz.DefaultRootNamespace, "mesh root namespace")
	f.DurationVar(&cfg.PollInterval, "poll", 0, "how often to check the input for changes (default 500ms); SIGHUP checks at once")
	return cmd
}

// forwardSignals relays each signal on sig to reload (coalescing) until ctx is
// done; the returned func waits for the relay to end.
func forwardSignals(ctx context.Context, sig <-chan os.Signal, reload chan<- struct{}) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-sig:
				select {
				case reload <- struct{}{}:
				default:
				}
			}
		}
	}()
	return func() { <-done }
}
