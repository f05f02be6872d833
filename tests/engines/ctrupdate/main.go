// Command ctrupdate changes a running containerd task's resources through
// containerd's Tasks.Update API, the call Kubernetes' CRI makes for
// UpdateContainerResources. ctr 1.6 has no command for it. The shim then
// runs `RUNTIME update --resources - ID` with the JSON on stdin.
//
//	ctrupdate ADDRESS NAMESPACE ID '{"memory":{"limit":67108864}}'
//
// It is a module of its own so that rt's go.mod does not carry containerd.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: ctrupdate ADDRESS NAMESPACE ID RESOURCES-JSON")
		os.Exit(2)
	}
	if err := update(os.Args[1], os.Args[2], os.Args[3], os.Args[4]); err != nil {
		fmt.Fprintln(os.Stderr, "ctrupdate:", err)
		os.Exit(1)
	}
}

func update(address, ns, id, resources string) error {
	var res specs.LinuxResources
	if err := json.Unmarshal([]byte(resources), &res); err != nil {
		return fmt.Errorf("resources: %w", err)
	}
	client, err := containerd.New(address, containerd.WithTimeout(10*time.Second))
	if err != nil {
		return err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(namespaces.WithNamespace(context.Background(), ns), 30*time.Second)
	defer cancel()
	c, err := client.LoadContainer(ctx, id)
	if err != nil {
		return err
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		return err
	}
	return task.Update(ctx, containerd.WithResources(&res))
}
