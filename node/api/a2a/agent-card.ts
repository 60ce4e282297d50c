import type { AgentCard, AgentSkill } from '@a2a-js/sdk'
import type { PeerflowNode } from '../../core/peerflow-node.ts'
import { VERSION } from '../../core/version.ts'
import { isLoopbackHost } from '../api-token.ts'

export const AGENT_CARD_PATH = '/.well-known/agent-card.json'
export const A2A_PATH = '/a2a'
const BEARER = 'bearer'

function skill (id: string, name: string, description: string, tags: string[]): AgentSkill {
  return { id, name, description, tags, examples: [], inputModes: ['text/plain'], outputModes: ['text/plain'], securityRequirements: [] }
}

/**
 * Every swarm this node is in is a skill, and so is every role its members offer (`swarm/role`): the
 * sender picks one by id. Swarms the node is not in are left out: it does not hold their tasks.
 */
export function swarmSkills (node: PeerflowNode): AgentSkill[] {
  const skills: AgentSkill[] = []
  const replicated = new Set(node.replication.scope.swarms())
  for (const swarm of node.swarms.list().filter((candidate) => replicated.has(candidate.name))) {
    const roles = [...new Set(swarm.members.flatMap((member) => member.roles))].sort()
    const leader = swarm.leader === null ? 'electing a leader' : 'led by an elected coordinator'
    skills.push(skill(swarm.name, `${swarm.name} swarm`,
      `Any task for the '${swarm.name}' swarm: ${swarm.members.length} member nodes (${swarm.topology}, ${leader}) run it with a Claude agent` +
        (roles.length > 0 ? ` in one of the roles ${roles.join(', ')}.` : ' in whatever role the message names.'),
      ['swarm', swarm.name, swarm.topology]))
    for (const role of roles) {
      skills.push(skill(`${swarm.name}/${role}`, `${role} (${swarm.name})`, `A task for a ${role} agent of the '${swarm.name}' swarm.`, ['role', role, swarm.name]))
    }
  }
  return skills
}

function apiIsPublic (node: PeerflowNode): boolean {
  const address = node.config.api
  return !isLoopbackHost(address.slice(0, address.lastIndexOf(':')).replace(/^\[|\]$/g, ''))
}

/**
 * The node's A2A agent card: its swarms and roles as skills, JSON-RPC at /a2a (A2A 1.0, and 0.3 for
 * requests without an A2A-Version header), and the bearer token when the API is beyond loopback.
 * `host` is the address the asker reached the API at (a wildcard bind address is no use to it).
 */
export function buildAgentCard (node: PeerflowNode, host: string = node.apiAddress): AgentCard {
  const url = `http://${host}${A2A_PATH}`
  const bearer = apiIsPublic(node)
  return {
    name: `peerflow node ${node.peerId.slice(-8)}`,
    description: 'A peerflow node: send a message and a swarm of agents on this peer-to-peer network works on it as a task. ' +
      "Choose a swarm (and role) with message metadata {\"skill\": \"<swarm>[/<role>]\"} or {\"swarm\": …, \"role\": …}; with one swarm it is the default.",
    supportedInterfaces: [
      { url, protocolBinding: 'JSONRPC', protocolVersion: '1.0', tenant: '' },
      { url, protocolBinding: 'JSONRPC', protocolVersion: '0.3', tenant: '' }
    ],
    provider: undefined,
    version: VERSION,
    capabilities: { streaming: true, pushNotifications: false, extensions: [], extendedAgentCard: false },
    securitySchemes: bearer
      ? { [BEARER]: { scheme: { $case: 'httpAuthSecurityScheme', value: { scheme: 'Bearer', bearerFormat: '', description: "the node's api.token" } } } }
      : {},
    securityRequirements: bearer ? [{ schemes: { [BEARER]: { list: [] } } }] : [],
    defaultInputModes: ['text/plain'],
    defaultOutputModes: ['text/plain'],
    skills: swarmSkills(node),
    signatures: []
  }
}
