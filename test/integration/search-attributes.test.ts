import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ensureSearchAttributes } from '../../worker/search-attributes';

describe('search attributes', () => {
  it('are registered by the worker when the server lacks them, once', async () => {
    const env = await TestWorkflowEnvironment.createLocal({
      server: { executable: { type: 'existing-path', path: process.env.TEMPORAL_CLI_PATH! } },
    });
    try {
      expect(await ensureSearchAttributes(env.connection, 'default')).toEqual(['DeliveryState', 'DeliveryName']);
      expect(await ensureSearchAttributes(env.connection, 'default')).toEqual([]);
      const { customAttributes } = await env.connection.operatorService.listSearchAttributes({ namespace: 'default' });
      expect(Object.keys(customAttributes ?? {})).toEqual(expect.arrayContaining(['DeliveryState', 'DeliveryName']));
    } finally {
      await env.teardown();
    }
  });
});
