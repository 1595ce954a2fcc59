package echo

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Identity is who the workload is; it is reported back on every echo so a test
// can tell which replica answered.
type Identity struct {
	Namespace      string
	Pod            string
	Node           string
	ServiceAccount string
	Cluster        string
	Hostname       string
	Version        string // ServiceVersion in Istio's echo format
}

// Observation is what the server saw of one HTTP request. Source address and
// port are the TCP peer as the accepted socket reports it, so proxies that
// preserve (or fail to preserve) the client address are observable.
type Observation struct {
	SourceIP     string
	SourcePort   int
	Method       string
	Host         string
	RequestURI   string // raw, as sent: the echo must not normalise what it reports
	Path         string
	Proto        string
	Headers      http.Header
	Port         uint16 // the listener's port
	TLS          bool
	ALPN         string
	ResponseCode int
}

// observe extracts an Observation from a request served on port.
func observe(r *http.Request, port uint16, code int) Observation {
	ip, p := splitHostPort(r.RemoteAddr)
	o := Observation{
		SourceIP:     ip,
		SourcePort:   p,
		Method:       r.Method,
		Host:         r.Host,
		RequestURI:   r.RequestURI,
		Path:         r.URL.Path,
		Proto:        r.Proto,
		Headers:      r.Header,
		Port:         port,
		ResponseCode: code,
	}
	if r.TLS != nil {
		o.TLS = true
		o.ALPN = r.TLS.NegotiatedProtocol
	}
	return o
}

// Field names exactly as istio pkg/test/echo/fields.go spells them, so Istio's
// echo response parser (pkg/test/echo/parse.go) reads our output unchanged.
const (
	fieldServiceVersion = "ServiceVersion"
	fieldServicePort    = "ServicePort"
	fieldHost           = "Host"
	fieldURL            = "URL"
	fieldCluster        = "Cluster"
	fieldNamespace      = "Namespace"
	fieldMethod         = "Method"
	fieldProto          = "Proto"
	fieldIP             = "IP"
	fieldAlpn           = "Alpn"
	fieldRequestHeader  = "RequestHeader"
	fieldHostname       = "Hostname"
	// fieldResponseCode is ambientlab's addition: Istio's HTTP endpoint leaves the
	// code to the client (its forwarder writes StatusCode=), but our callers are
	// often plain curl, so the server states the code it chose.
	fieldResponseCode = "ResponseCode"
)

// lineSafe keeps one field on one line: request data cannot contain newlines on
// the wire, but the formatter must stay line-oriented for any input.
var lineSafe = strings.NewReplacer("\r", `\r`, "\n", `\n`)

// FieldText renders o in Istio's echo "Field=value" line format, in the order
// istio pkg/test/echo/server/endpoint/http.go (addResponsePayload) writes them:
// fields that Istio writes only when non-empty are omitted when empty, and
// request headers come sorted by name, one line per value.
func FieldText(id Identity, o Observation) []byte {
	var b strings.Builder
	write := func(field, value string) {
		b.WriteString(field)
		b.WriteByte('=')
		b.WriteString(lineSafe.Replace(value))
		b.WriteByte('\n')
	}
	writeNonEmpty := func(field, value string) {
		if value != "" {
			write(field, value)
		}
	}
	write(fieldServiceVersion, id.Version)
	write(fieldServicePort, strconv.Itoa(int(o.Port)))
	write(fieldHost, o.Host)
	write(fieldURL, o.RequestURI)
	writeNonEmpty(fieldCluster, id.Cluster)
	writeNonEmpty(fieldNamespace, id.Namespace)
	write(fieldMethod, o.Method)
	write(fieldProto, o.Proto)
	write(fieldIP, o.SourceIP)
	if o.TLS {
		writeNonEmpty(fieldAlpn, o.ALPN)
	}
	keys := make([]string, 0, len(o.Headers))
	for k := range o.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range o.Headers[k] {
			write(fieldRequestHeader, k+":"+v)
		}
	}
	write(fieldHostname, id.Hostname)
	if o.ResponseCode != 0 {
		write(fieldResponseCode, strconv.Itoa(o.ResponseCode))
	}
	return []byte(b.String())
}

// Report is the JSON form of an echo: the observation plus the workload identity.
type Report struct {
	SourceIP       string              `json:"source_ip"`
	SourcePort     int                 `json:"source_port"`
	Method         string              `json:"method"`
	Host           string              `json:"host"`
	Path           string              `json:"path"`
	URL            string              `json:"url"`
	Proto          string              `json:"proto"`
	Headers        map[string][]string `json:"headers"`
	Pod            string              `json:"pod"`
	Namespace      string              `json:"namespace"`
	Node           string              `json:"node"`
	ServiceAccount string              `json:"service_account"`
	Cluster        string              `json:"cluster"`
	Hostname       string              `json:"hostname"`
	Version        string              `json:"version"`
	Port           int                 `json:"port"`
	TLS            bool                `json:"tls"`
	ResponseCode   int                 `json:"response_code"`
}

// NewReport combines identity and observation into the JSON report.
func NewReport(id Identity, o Observation) Report {
	h := make(map[string][]string, len(o.Headers))
	for k, v := range o.Headers {
		h[k] = v
	}
	return Report{
		SourceIP: o.SourceIP, SourcePort: o.SourcePort,
		Method: o.Method, Host: o.Host, Path: o.Path, URL: o.RequestURI, Proto: o.Proto,
		Headers: h,
		Pod:     id.Pod, Namespace: id.Namespace, Node: id.Node, ServiceAccount: id.ServiceAccount,
		Cluster: id.Cluster, Hostname: id.Hostname, Version: id.Version,
		Port: int(o.Port), TLS: o.TLS, ResponseCode: o.ResponseCode,
	}
}

// JSONReport renders the JSON report (indented like httpbin, newline-terminated).
func JSONReport(id Identity, o Observation) []byte {
	return marshalIndent(NewReport(id, o))
}

func marshalIndent(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		// Only unsupported types fail; every value marshalled here is plain data.
		panic("echo: marshal: " + err.Error())
	}
	return append(b, '\n')
}

// splitHostPort splits "ip:port" without failing: an unparsable address is
// reported whole as the IP, with port 0.
func splitHostPort(addr string) (string, int) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return addr, 0
	}
	p, err := strconv.Atoi(addr[i+1:])
	if err != nil {
		return addr, 0
	}
	return strings.Trim(addr[:i], "[]"), p
}
