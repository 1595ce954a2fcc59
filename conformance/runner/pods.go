package runner

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"

	"github.com/ambientlab/ambientlab/sim/cluster"
)

// podList reads the cluster's pods in their Kubernetes shape.
func podList(c *cluster.Cluster) (*corev1.PodList, error) {
	b, err := c.Get("pods")
	if err != nil {
		return nil, err
	}
	var l corev1.PodList
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, err
	}
	return &l, nil
}
