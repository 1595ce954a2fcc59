package nodeagent

// Labels and annotations that decide capture (istio pkg/config/constants,
// istio.io/api label).
const (
	LabelDataplaneMode      = "istio.io/dataplane-mode"
	DataplaneModeAmbient    = "ambient"
	DataplaneModeNone       = "none"
	AnnotationSidecarStatus = "sidecar.istio.io/status"
)

// Enrollment is what decides whether a pod is captured.
type Enrollment struct {
	NamespaceLabels map[string]string
	PodLabels       map[string]string
	PodAnnotations  map[string]string
	HostNetwork     bool
}

// Enrolled reports whether the pod belongs in ambient, with istio-cni's
// default enablement selectors (cni/pkg/util/enablement_selector.go Matches
// with the chart's ambient.enablementSelectors): never host-network pods or
// pods with an injected sidecar; pods labelled dataplane-mode=ambient; and
// pods in a namespace labelled ambient unless the pod says none.
func Enrolled(e Enrollment) bool {
	if e.HostNetwork {
		return false
	}
	if _, sidecar := e.PodAnnotations[AnnotationSidecarStatus]; sidecar {
		return false // ztunnel and a sidecar for one pod is unsupported
	}
	podMode, podSet := e.PodLabels[LabelDataplaneMode]
	if podSet && podMode == DataplaneModeAmbient {
		return true
	}
	if podSet && podMode == DataplaneModeNone {
		return false
	}
	return e.NamespaceLabels[LabelDataplaneMode] == DataplaneModeAmbient
}
