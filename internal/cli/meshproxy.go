package cli

import (
	"context"
	"log/slog"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ambientlab/ambientlab/sim/workload/ready"
)

// runMeshProxy is the process frame shared by the hidden ztunnel and
// waypoint commands: it runs until SIGTERM or SIGINT (which start the
// proxy's drain), logs to stderr, and tells the simulator the pod is ready
// when the proxy says so.
//
// SIGHUP is ignored: it is the supervisor's reload signal for DNS and
// istiod; a proxy has nothing to re-read and must never stop on it.
func runMeshProxy(cmd *cobra.Command, g *globalOptions, run func(ctx context.Context, log *slog.Logger, onReady func()) error) error {
	signal.Ignore(syscall.SIGHUP)
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log := g.logger(cmd.ErrOrStderr())
	return run(ctx, log, func() {
		if err := ready.Signal(); err != nil {
			log.Warn("readiness signal", "error", err)
		}
	})
}
