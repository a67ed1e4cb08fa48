package parity

func init() { caseFamilies = append(caseFamilies, basicCases) }

func basicCases() []*Case {
	return []*Case{
		{Name: "basic/status", Script: script(pStatus, pIDs, pCwd, pUmask, pHostname)},
		{Name: "basic/mounts", Script: script(pMounts)},
		{Name: "basic/env", Script: script(pEnv)},
		{Name: "basic/exit-code", Script: "exit 7"},
	}
}
