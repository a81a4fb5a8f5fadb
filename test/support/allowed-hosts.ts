// The --allowed-hosts of every test: the BTP simulator and the test servers listen on loopback, on
// ports picked at run time. The operator under test enforces it exactly as in production.
import { parseAllowedHosts } from '../../src/btp/allowed-hosts.ts';

export const LOOPBACK_HOSTS = '127.0.0.1:*,localhost:*,[::1]:*';

export const loopbackHosts = parseAllowedHosts(LOOPBACK_HOSTS);
