package runner

// demoHTTPBinAndSleep is the setup several runner tests share: namespace
// demo with httpbin behind Service httpbin:8000 and an idle sleep client.
// Scenario documents are appended after its trailing separator.
const demoHTTPBinAndSleep = `apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: httpbin, namespace: demo}
spec:
  selector: {matchLabels: {app: httpbin}}
  template:
    metadata: {labels: {app: httpbin}}
    spec: {containers: [{name: httpbin, image: docker.io/kennethreitz/httpbin, ports: [{name: http, containerPort: 80}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: httpbin, namespace: demo}
spec: {selector: {app: httpbin}, ports: [{name: http, port: 8000, targetPort: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: sleep, namespace: demo}
spec:
  selector: {matchLabels: {app: sleep}}
  template: {metadata: {labels: {app: sleep}}, spec: {containers: [{name: sleep, image: curlimages/curl, command: [sleep, infinity]}]}}
---
`
