package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// Client talks to one running cluster.
type Client struct {
	Cluster string
	path    string
}

// NewClient returns a client for the named cluster; it does not connect yet.
func NewClient(cluster string) *Client {
	return &Client{Cluster: cluster, path: SocketPath(cluster)}
}

func (c *Client) dial() (*net.UnixConn, error) {
	conn, err := net.DialTimeout("unix", c.path, 5*time.Second)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return nil, fmt.Errorf("%w named %q (no listener on %s): start one with `ambientlab up -f FILE`", ErrNoCluster, c.Cluster, c.path)
		}
		return nil, fmt.Errorf("connect to cluster %q: %w", c.Cluster, err)
	}
	return conn.(*net.UnixConn), nil
}

// send opens a connection and sends req with optional fds; the caller reads
// the replies and closes the connection.
func (c *Client) send(req Request, files []*os.File) (*net.UnixConn, error) {
	conn, err := c.dial()
	if err != nil {
		return nil, err
	}
	if err := sendHeader(conn, files); err != nil {
		conn.Close()
		return nil, err
	}
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		conn.Close()
		return nil, fmt.Errorf("send request: %w", err)
	}
	return conn, nil
}

func readFinal(conn *net.UnixConn, out io.Writer) (*Response, error) {
	dec := json.NewDecoder(conn)
	for {
		var r Response
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("cluster closed the connection: %w", err)
		}
		if len(r.Chunk) > 0 && out != nil {
			if _, err := out.Write(r.Chunk); err != nil {
				return nil, err
			}
		}
		if r.Done {
			if r.Error != "" {
				return &r, errors.New(r.Error)
			}
			return &r, nil
		}
	}
}

func (c *Client) simple(req Request) (*Response, error) {
	conn, err := c.send(req, nil)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return readFinal(conn, nil)
}

// Status returns the cluster's status.
func (c *Client) Status() (Status, error) {
	var st Status
	r, err := c.simple(Request{Op: OpStatus})
	if err != nil {
		return st, err
	}
	err = json.Unmarshal(r.Data, &st)
	return st, err
}

// Get returns the JSON list for kind (nodes, pods, svc).
func (c *Client) Get(kind string) (json.RawMessage, error) {
	r, err := c.simple(Request{Op: OpGet, Kind: kind})
	if err != nil {
		return nil, err
	}
	return r.Data, nil
}

// Apply sends manifests to apply.
func (c *Client) Apply(files []File) (*Response, error) {
	return c.simple(Request{Op: OpApply, Files: files})
}

// Delete sends manifests to delete.
func (c *Client) Delete(files []File) (*Response, error) {
	return c.simple(Request{Op: OpDelete, Files: files})
}

// Down asks the cluster to shut down.
func (c *Client) Down() error {
	_, err := c.simple(Request{Op: OpDown})
	return err
}

// Logs streams the target's logs to w.
func (c *Client) Logs(req Request, w io.Writer) error {
	req.Op = OpLogs
	conn, err := c.send(req, nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = readFinal(conn, w)
	return err
}

// Exec runs req.Argv in the target pod with the given stdio (stdin may be nil
// when req.Stdin is false) and returns its exit code. Signals received on sigs
// are forwarded to the command.
func (c *Client) Exec(req Request, stdin, stdout, stderr *os.File, sigs <-chan os.Signal) (int, error) {
	req.Op = OpExec
	files := []*os.File{stdout, stderr}
	if req.Stdin {
		files = []*os.File{stdin, stdout, stderr}
	}
	conn, err := c.send(req, files)
	if err != nil {
		return -1, err
	}
	defer conn.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		enc := json.NewEncoder(conn)
		for {
			select {
			case <-done:
				return
			case s := <-sigs:
				enc.Encode(ClientSignal{Signal: SignalNumber(s)})
			}
		}
	}()
	r, err := readFinal(conn, nil)
	if err != nil {
		return -1, err
	}
	if r.Exit == nil {
		return -1, fmt.Errorf("exec: no exit status")
	}
	return *r.Exit, nil
}
