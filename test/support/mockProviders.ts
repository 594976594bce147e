/** The mock providers live in `plan/`: the tests and the offline release plan share them. */
export { MOCK_REGION, MOCK_VPC_CIDR, mockCall, mockState } from "../../plan/mockProviders";
export type { StackConfig } from "../../plan/mockProviders";
