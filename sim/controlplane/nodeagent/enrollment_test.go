package nodeagent

import "testing"

func TestEnrolled(t *testing.T) {
	ambient := map[string]string{LabelDataplaneMode: DataplaneModeAmbient}
	none := map[string]string{LabelDataplaneMode: DataplaneModeNone}
	for _, tc := range []struct {
		name string
		e    Enrollment
		want bool
	}{
		{"nothing labelled", Enrollment{}, false},
		{"namespace ambient", Enrollment{NamespaceLabels: ambient}, true},
		{"pod ambient", Enrollment{PodLabels: ambient}, true},
		{"namespace ambient, pod none", Enrollment{NamespaceLabels: ambient, PodLabels: none}, false},
		{"namespace none, pod ambient", Enrollment{NamespaceLabels: none, PodLabels: ambient}, true},
		{"pod other value in ambient namespace", Enrollment{NamespaceLabels: ambient, PodLabels: map[string]string{LabelDataplaneMode: "sidecar"}}, true},
		{"host network", Enrollment{NamespaceLabels: ambient, HostNetwork: true}, false},
		{"injected sidecar", Enrollment{PodLabels: ambient, PodAnnotations: map[string]string{AnnotationSidecarStatus: "{}"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Enrolled(tc.e); got != tc.want {
				t.Errorf("Enrolled = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRemoveReasonString(t *testing.T) {
	if PodDeleted.String() != "deleted" || PodUnenrolled.String() != "unenrolled" || RemoveReason(9).String() != "RemoveReason(9)" {
		t.Error("RemoveReason names")
	}
}
