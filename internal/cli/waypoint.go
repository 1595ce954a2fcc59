package cli

import (
	"context"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/app"
)

// newWaypointCmd runs the reference waypoint (the process in each pod of a
// waypoint Gateway's Deployment). Hidden: the simulator starts it.
func newWaypointCmd(g *globalOptions) *cobra.Command {
	cfg := app.DefaultConfig()
	cmd := &cobra.Command{
		Use:    "waypoint",
		Short:  "Run the reference waypoint for one Gateway pod (xDS and CA clients, HBONE L7/L4 proxy)",
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
	f.StringVar(&cfg.Namespace, "namespace", "", "namespace of the waypoint Gateway")
	f.StringVar(&cfg.Gateway, "gateway", "", "name of the waypoint Gateway (also its service account)")
	f.StringVar(&cfg.Pod, "pod", "", "name of this waypoint pod")
	f.StringVar(&cfg.XDSAddress, "xds", "", "istiod xDS address (host:15010)")
	f.StringVar(&cfg.CAAddress, "ca", "", "istiod CA address (host:15012)")
	f.StringVar(&cfg.BootstrapDir, "bootstrap", "", "directory with the pod's bootstrap credential")
	f.DurationVar(&cfg.BootstrapWait, "bootstrap-wait", cfg.BootstrapWait, "how long to wait for the bootstrap credential")
	f.StringVar(&cfg.TrustDomain, "trust-domain", cfg.TrustDomain, "trust domain of the waypoint's identity")
	f.StringVar(&cfg.HBONEAddr, "hbone", cfg.HBONEAddr, "HBONE listen address")
	f.StringVar(&cfg.AdminAddr, "admin", cfg.AdminAddr, "admin (config_dump) listen address")
	f.StringVar(&cfg.MetricsAddr, "metrics", cfg.MetricsAddr, "metrics listen address")
	f.StringVar(&cfg.ReadinessAddr, "readiness", cfg.ReadinessAddr, "readiness listen address")
	f.DurationVar(&cfg.DrainGrace, "drain-grace", cfg.DrainGrace, "how long requests may finish on SIGTERM")
	f.IntVar(&cfg.MaxProcs, "concurrency", cfg.MaxProcs, "Go scheduler Ps (GOMAXPROCS) while serving, like Envoy's --concurrency; 0 keeps the runtime's (a GOMAXPROCS env var always wins)")
	return cmd
}
