export { ACCESS_FS, ACCESS_NET, REQUIRED_ABI, RESTRICT_SELF, SCOPE } from './abi.js';
export { GRANTS, IOCTL_HARMLESS_DEVICES, MAX_PORT_RULES, planRuleset, type LandlockRuleset, type PathRule, type PortRule, type RulesetInput } from './ruleset.js';
