import type { Command } from 'commander';
import { DEFAULT_ACCESS_TOKEN_TTL, keyStatuses, rotateKey } from '../tokens/keys.ts';
import { loadMasterKey } from '../tokens/master-key.ts';
import { auditCli, now, parseIntArg, withCommon, withStore } from './common.ts';
import { keyView, print } from './output.ts';

export function keysCommand(program: Command): void {
  const keys = program.command('keys').description('signing keys');

  withCommon(keys.command('list').description('list signing keys and their state')).action(
    (o: { dataDir?: string; json?: boolean }) =>
      withStore(o, async (store) => {
        const maxTtl = Math.max((await store.maxAccessTokenTtl()) ?? 0, DEFAULT_ACCESS_TOKEN_TTL);
        print(keyStatuses(await store.signingKeys.list(), now(), maxTtl).map(keyView), !!o.json);
      }),
  );

  withCommon(
    keys
      .command('rotate')
      .description('create a new signing key: published at once, signing after the activation delay')
      .option(
        '--activate-in <seconds>',
        'seconds before the new key signs (default PADDOCK_KEY_ACTIVATION_DELAY, 600)',
        parseIntArg('--activate-in'),
      ),
  ).action((o: { dataDir?: string; json?: boolean; activateIn?: number }) =>
    withStore(o, async (store, config) => {
      const t = now();
      const key = await rotateKey(
        store,
        loadMasterKey(config),
        t,
        o.activateIn ?? config.keys.activationDelay,
      );
      await auditCli(
        store,
        'signing_key.rotated',
        { type: 'signing_key', id: key.kid },
        {
          alg: key.alg,
          activates_at: new Date(key.activates_at * 1000).toISOString(),
        },
      );
      const maxTtl = Math.max((await store.maxAccessTokenTtl()) ?? 0, DEFAULT_ACCESS_TOKEN_TTL);
      const status = keyStatuses(await store.signingKeys.list(), t, maxTtl).find((s) => s.kid === key.kid)!;
      print(keyView(status), !!o.json);
    }),
  );
}
