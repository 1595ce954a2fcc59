package cli

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ambientlab/ambientlab/sim/controlplane"
	"github.com/ambientlab/ambientlab/sim/controlplane/authz"
)

// newControlPlaneCmd runs the simulated istiod (the process in the
// istio-system/istiod pod). Hidden: the simulator starts it, users don't.
func newControlPlaneCmd(g *globalOptions) *cobra.Command {
	cfg := controlplane.Config{}
	cmd := &cobra.Command{
		Use:    "controlplane",
		Short:  "Run the simulated istiod: serve workload API xDS computed from an input directory",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.InputDir == "" {
				return usageErr("--input is required")
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
			return controlplane.Run(ctx, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.InputDir, "input", "", "directory the simulator writes (controlplane.WriteInput)")
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
