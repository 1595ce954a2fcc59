package cli

import (
	"context"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/ambientlab/ambientlab/dataplane/ztunnel/app"
)

// newZtunnelCmd runs the reference ztunnel (the process in each
// istio-system/ztunnel-<node> pod). Hidden: the simulator starts it.
func newZtunnelCmd(g *globalOptions) *cobra.Command {
	cfg := app.DefaultConfig()
	cmd := &cobra.Command{
		Use:    "ztunnel",
		Short:  "Run the reference ztunnel for one node (xDS, CA and ZDS clients, in-pod proxy)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMeshProxy(cmd, g, func(ctx context.Context, log *slog.Logger, onReady func()) error {
				cfg.Log, cfg.AccessLog, cfg.OnReady = log, cmd.OutOrStdout(), onReady
				return app.Run(ctx, cfg)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Node, "node", "", "node this ztunnel serves")
	f.StringVar(&cfg.XDSAddress, "xds", "", "istiod xDS address (host:15010)")
	f.StringVar(&cfg.CAAddress, "ca", "", "istiod CA address (host:15012)")
	f.StringVar(&cfg.ZDSSocket, "zds", "", "node agent ZDS socket")
	f.StringVar(&cfg.BootstrapDir, "bootstrap", "", "directory with the node's bootstrap credentials")
	f.DurationVar(&cfg.BootstrapWait, "bootstrap-wait", cfg.BootstrapWait, "how long to wait for the bootstrap credentials")
	f.StringVar(&cfg.AdminAddr, "admin", cfg.AdminAddr, "admin (config_dump) listen address")
	f.StringVar(&cfg.MetricsAddr, "metrics", cfg.MetricsAddr, "metrics listen address")
	f.StringVar(&cfg.ReadinessAddr, "readiness", cfg.ReadinessAddr, "readiness listen address")
	f.DurationVar(&cfg.DrainGrace, "drain-grace", cfg.DrainGrace, "how long connections may finish on SIGTERM")
	f.IntVar(&cfg.MaxProcs, "concurrency", cfg.MaxProcs, "Go scheduler Ps (GOMAXPROCS) while serving, like upstream's ZTUNNEL_WORKER_THREADS; 0 keeps the runtime's (a GOMAXPROCS env var always wins)")
	return cmd
}
