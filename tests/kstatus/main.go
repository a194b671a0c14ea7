// Command gitops-check says what two GitOps tools make of Kubernetes objects, using their own
// code rather than a reading of their documentation:
//
//	gitops-check kstatus              status.Compute of sigs.k8s.io/cli-utils (kstatus), which
//	                                  Flux's health checks and kpt use
//	gitops-check argocd-health FILE   FILE run as an Argo CD resource health script, by
//	                                  gopher-lua (Argo CD's Lua) set up as Argo CD sets up
//	                                  scripts from argocd-cm: no standard library but base,
//	                                  table and package (Argo CD adds a reduced os, left out
//	                                  here: a script that needs it fails), the object as the
//	                                  global `obj`, one second at most
//
// stdin: one object as JSON, or a List of them (`kubectl get apps -o json`). stdout: a JSON
// array with one result per object, in input order:
// {"namespace": ..., "name": ..., "status": ..., "message": ...}.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type result struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	Message   string `json:"message"`
}

// The health statuses Argo CD knows; anything else it shows as Unknown.
var argoHealth = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true,
	"Missing": true, "Unknown": true,
}

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gitops-check:", err)
		os.Exit(1)
	}
}

func run(args []string, in io.Reader, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: gitops-check kstatus | gitops-check argocd-health SCRIPT")
	}
	objects, err := readObjects(in)
	if err != nil {
		return err
	}
	var check func(map[string]interface{}) (string, string, error)
	switch {
	case args[0] == "kstatus" && len(args) == 1:
		check = kstatus
	case args[0] == "argocd-health" && len(args) == 2:
		script, err := os.ReadFile(args[1])
		if err != nil {
			return err
		}
		check = func(obj map[string]interface{}) (string, string, error) {
			return argocdHealth(string(script), obj)
		}
	default:
		return fmt.Errorf("unknown arguments %q", args)
	}
	results := make([]result, 0, len(objects))
	for _, obj := range objects {
		u := unstructured.Unstructured{Object: obj}
		state, message, err := check(obj)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", u.GetNamespace(), u.GetName(), err)
		}
		results = append(results, result{u.GetNamespace(), u.GetName(), state, message})
	}
	return json.NewEncoder(out).Encode(results)
}

func readObjects(in io.Reader) ([]map[string]interface{}, error) {
	data, err := io.ReadAll(in)
	if err != nil {
		return nil, fmt.Errorf("reading stdin: %w", err)
	}
	// Integers as int64, as client-go decodes objects it reads from the API server.
	var document map[string]interface{}
	if err := utiljson.Unmarshal(data, &document); err != nil {
		return nil, fmt.Errorf("reading stdin: %w", err)
	}
	items, isList := document["items"].([]interface{})
	if !isList {
		return []map[string]interface{}{document}, nil
	}
	objects := make([]map[string]interface{}, 0, len(items))
	for i, item := range items {
		obj, ok := item.(map[string]interface{})
		if !ok {
			return nil, fmt.Errorf("items[%d] is not an object", i)
		}
		objects = append(objects, obj)
	}
	return objects, nil
}

func kstatus(obj map[string]interface{}) (string, string, error) {
	computed, err := status.Compute(&unstructured.Unstructured{Object: obj})
	if err != nil {
		return "", "", err
	}
	return computed.Status.String(), computed.Message, nil
}

func argocdHealth(script string, obj map[string]interface{}) (string, string, error) {
	state := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer state.Close()
	for name, open := range map[string]lua.LGFunction{
		lua.LoadLibName: lua.OpenPackage, lua.BaseLibName: lua.OpenBase,
		lua.TabLibName: lua.OpenTable,
	} {
		if err := state.CallByParam(lua.P{Fn: state.NewFunction(open), Protect: true},
			lua.LString(name)); err != nil {
			return "", "", err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	state.SetContext(ctx)
	state.SetGlobal("obj", toLua(state, obj))
	if err := state.DoString(script); err != nil {
		return "", "", err
	}
	returned, ok := state.Get(-1).(*lua.LTable)
	if !ok {
		return "", "", fmt.Errorf("the script returned %s, not a table", state.Get(-1).Type())
	}
	health, err := luaString(returned, "status")
	if err != nil {
		return "", "", err
	}
	message, err := luaString(returned, "message")
	if err != nil {
		return "", "", err
	}
	if !argoHealth[health] {
		return "Unknown", "Lua returned an invalid health status", nil
	}
	return health, message, nil
}

func luaString(table *lua.LTable, key string) (string, error) {
	switch value := table.RawGetString(key).(type) {
	case lua.LString:
		return string(value), nil
	case *lua.LNilType:
		return "", nil
	default:
		return "", fmt.Errorf("%s is a %s, not a string", key, value.Type())
	}
}

// toLua turns decoded JSON into Lua values: objects and arrays become tables, JSON null
// becomes nil, as Argo CD hands an object to its scripts.
func toLua(state *lua.LState, value interface{}) lua.LValue {
	switch v := value.(type) {
	case map[string]interface{}:
		table := state.CreateTable(0, len(v))
		for key, item := range v {
			table.RawSetString(key, toLua(state, item))
		}
		return table
	case []interface{}:
		table := state.CreateTable(len(v), 0)
		for _, item := range v {
			table.Append(toLua(state, item))
		}
		return table
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case bool:
		return lua.LBool(v)
	default:
		return lua.LNil
	}
}
