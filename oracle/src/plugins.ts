// Every network this oracle build knows; a deployment's networks pick from these. A module of its
// own so that threads which only need the plug-ins (the artifact writer) do not load the oracle.
import type { NetworkPlugins } from '@groundwork/protocol';
import { computeNetwork } from '@groundwork/network-compute/plugin';
import { coverageNetwork } from '@groundwork/network-coverage/plugin';
import { storageNetwork } from '@groundwork/network-storage/plugin';
import { uptimeNetwork } from '@groundwork/network-uptime';

export const NETWORK_PLUGINS: NetworkPlugins = {
  [uptimeNetwork.kind]: uptimeNetwork,
  [computeNetwork.kind]: computeNetwork,
  [storageNetwork.kind]: storageNetwork,
  [coverageNetwork.kind]: coverageNetwork,
};
