package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ambientlab/ambientlab/sim/cluster"
)

// podsReady reports whether every pod is Running with all containers ready.
func (e *env) podsReady() (bool, string) {
	pods, err := podList(e.c)
	if err != nil {
		return false, err.Error()
	}
	var waiting []string
	for _, p := range pods.Items {
		ready := false
		for _, c := range p.Status.Conditions {
			if c.Type == "Ready" && c.Status == "True" {
				ready = true
			}
		}
		if !ready {
			waiting = append(waiting, p.Namespace+"/"+p.Name)
		}
	}
	if len(waiting) > 0 {
		return false, "pods not ready: " + strings.Join(waiting, ", ")
	}
	return true, ""
}

// dumpState captures what a reader needs to understand a failure before the
// cluster is torn down: nodes, pods, services (JSON, as `get -o json` prints
// them), the kube-proxy rules, each ztunnel's config dump and every container
// log (ztunnel access logs included).
func dumpState(ctx context.Context, c *cluster.Cluster, dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return err
	}
	var errs []error
	for _, kind := range []string{"nodes", "pods", "services"} {
		b, err := c.Get(kind)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, kind+".json"), b, 0o644)
		}
		errs = append(errs, err)
	}
	errs = append(errs, os.WriteFile(filepath.Join(dir, "service-rules.nft"), []byte(c.ServiceRules()), 0o644))
	dumps, err := c.ConfigDumps(ctx)
	errs = append(errs, err)
	for pod, b := range dumps {
		name := "config_dump_" + strings.ReplaceAll(pod, "/", "_") + ".json"
		errs = append(errs, os.WriteFile(filepath.Join(dir, name), b, 0o644))
	}
	for _, p := range c.Model().Pods {
		for _, ct := range p.Containers {
			f, err := os.Create(filepath.Join(dir, "logs", fmt.Sprintf("%s_%s_%s.log", p.Namespace, p.Name, ct.Name)))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			errs = append(errs, c.Logs(ctx, p.Key(), ct.Name, false, 0, f), f.Close())
		}
	}
	return errors.Join(errs...)
}
