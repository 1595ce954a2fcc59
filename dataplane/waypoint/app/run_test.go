package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/app"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/transport/wptest"
)

func TestRunRefusesBadStart(t *testing.T) {
	m := wptest.NewMesh(t)
	foreign := t.TempDir()
	m.WriteBootstrap(t, foreign, m.ID("other", "waypoint"))
	base := func() app.Config {
		cfg := app.DefaultConfig()
		cfg.Namespace, cfg.Gateway, cfg.Pod = "demo", "waypoint", "waypoint-0"
		cfg.XDSAddress, cfg.CAAddress = "127.0.0.1:1", "127.0.0.1:1"
		cfg.BootstrapWait = 100 * time.Millisecond
		return cfg
	}
	for _, tc := range []struct {
		name string
		edit func(*app.Config)
		want string
	}{
		{"credential of another namespace", func(c *app.Config) { c.BootstrapDir = foreign }, "not a service account of namespace demo"},
		{"no credential", func(c *app.Config) { c.BootstrapDir = t.TempDir() }, "bootstrap"},
		{"missing flags", func(c *app.Config) { c.Gateway, c.BootstrapDir = "", foreign }, "Gateway is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			tc.edit(&cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := app.Run(ctx, cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
