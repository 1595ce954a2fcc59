package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// renderList prints a v1 List of kind, filtered by namespace ("" = all), as
// kubectl would.
func renderList(w io.Writer, kind string, data []byte, namespace, output string) error {
	switch kind {
	case "nodes":
		var l corev1.NodeList
		if err := json.Unmarshal(data, &l); err != nil {
			return err
		}
		return emit(w, output, &l, func(tw *tabwriter.Writer, wide bool) {
			fmt.Fprintln(tw, "NAME\tSTATUS\tROLES\tAGE\tVERSION\tINTERNAL-IP\tPOD-CIDR")
			for _, n := range l.Items {
				ip := ""
				for _, a := range n.Status.Addresses {
					if a.Type == corev1.NodeInternalIP {
						ip = a.Address
					}
				}
				fmt.Fprintf(tw, "%s\tReady\t<none>\t%s\t%s\t%s\t%s\n", n.Name, age(n.CreationTimestamp.Time), n.Status.NodeInfo.KubeletVersion, ip, n.Spec.PodCIDR)
			}
		})
	case "pods":
		var l corev1.PodList
		if err := json.Unmarshal(data, &l); err != nil {
			return err
		}
		items := l.Items[:0]
		for _, p := range l.Items {
			if namespace == "" || p.Namespace == namespace {
				items = append(items, p)
			}
		}
		l.Items = items
		return emit(w, output, &l, func(tw *tabwriter.Writer, wide bool) {
			if namespace == "" {
				fmt.Fprint(tw, "NAMESPACE\t")
			}
			fmt.Fprintln(tw, "NAME\tREADY\tSTATUS\tRESTARTS\tAGE\tIP\tNODE")
			for _, p := range l.Items {
				ready, restarts := 0, 0
				status := string(p.Status.Phase)
				for _, cs := range p.Status.ContainerStatuses {
					if cs.Ready {
						ready++
					}
					restarts += int(cs.RestartCount)
					if cs.State.Waiting != nil {
						status = cs.State.Waiting.Reason
					}
				}
				if namespace == "" {
					fmt.Fprint(tw, p.Namespace+"\t")
				}
				fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%d\t%s\t%s\t%s\n", p.Name, ready, len(p.Spec.Containers), status, restarts, age(p.CreationTimestamp.Time), p.Status.PodIP, p.Spec.NodeName)
			}
		})
	case "svc":
		var l corev1.ServiceList
		if err := json.Unmarshal(data, &l); err != nil {
			return err
		}
		items := l.Items[:0]
		for _, s := range l.Items {
			if namespace == "" || s.Namespace == namespace {
				items = append(items, s)
			}
		}
		l.Items = items
		return emit(w, output, &l, func(tw *tabwriter.Writer, wide bool) {
			if namespace == "" {
				fmt.Fprint(tw, "NAMESPACE\t")
			}
			fmt.Fprintln(tw, "NAME\tTYPE\tCLUSTER-IP\tEXTERNAL-IP\tPORT(S)\tAGE\tSELECTOR")
			for _, s := range l.Items {
				var ports []string
				for _, p := range s.Spec.Ports {
					ports = append(ports, strconv.Itoa(int(p.Port))+"/"+string(p.Protocol))
				}
				var sel []string
				for k, v := range s.Spec.Selector {
					sel = append(sel, k+"="+v)
				}
				if namespace == "" {
					fmt.Fprint(tw, s.Namespace+"\t")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t<none>\t%s\t%s\t%s\n", s.Name, s.Spec.Type, s.Spec.ClusterIP, strings.Join(ports, ","), age(s.CreationTimestamp.Time), orNone(strings.Join(sel, ",")))
			}
		})
	}
	return fmt.Errorf("unknown kind %q", kind)
}

func emit(w io.Writer, output string, obj any, table func(*tabwriter.Writer, bool)) error {
	switch output {
	case "", "table", "wide":
		tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
		table(tw, output == "wide")
		return tw.Flush()
	case "json":
		b, err := json.MarshalIndent(obj, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(b))
		return err
	case "yaml":
		b, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	return usageErr("unknown output format %q: want table, wide, yaml or json", output)
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// age renders kubectl's short durations.
func age(t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
